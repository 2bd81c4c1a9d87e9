"""Emission: the generated FuseSoC library of one run (top level, helper RTL, memory images,
testbench with golden stimulus and expected outputs, .core with lint/sim/synth/pnr/vivado targets).

Layout under the run folder (`hw/`):

    hw/<top>.core                 hw.vlnv (default mase:gen:<top>:<version>; <top> is hw.top, default mase_top),
                                  depends on the mase:mx:* cores
    hw/rtl/<top>.sv               top level: nodes wired with valid/ready, forks, FIFOs, width converters
    hw/rtl/mase_width_conv.sv     lane-count converter between stages of different parallelism
    hw/tb/tb_<top>.sv             self-checking testbench (sources, sinks, beat-by-beat comparison)
    hw/mem/<node>.{w,s,b}.hex     weight / scale / bias images of every on-chip linear layer
    hw/stim/<port>.hex|.exp       stimulus and expected beats from the golden graph run
    hw/params.json                every node's parameters (and the chosen lanes, FIFOs, placement)
    hw/constraints/               clock constraints for the Vivado and nextpnr flows

Everything is deterministic: same config -> byte-identical files. Each text file starts with a
header naming the mase version and the config hash; no timestamps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .cores import CoreInst, Unmapped, available_cores, map_node, safe, width
from .graph import DataflowGraph, Edge
from .params import HwPlan

WIDTH_CONV_SV = """\
// Lane-count converter of a valid/ready stream: IN_LANES elements per input beat to OUT_LANES per
// output beat (one divides the other). MX beats ({scale[7:0], elements}, HAS_SCALE = 1) keep their
// block's scale: both lane counts divide the block size, so a beat never straddles two blocks.
module mase_width_conv #(
    parameter int IN_LANES  = 1,
    parameter int OUT_LANES = 2,
    parameter int ELEM_W    = 4,
    parameter int HAS_SCALE = 1
) (
    input  logic                                   clk,
    input  logic                                   rst,
    input  logic [8*HAS_SCALE+IN_LANES*ELEM_W-1:0]  in_data,
    input  logic                                   in_valid,
    output logic                                   in_ready,
    output logic [8*HAS_SCALE+OUT_LANES*ELEM_W-1:0] out_data,
    output logic                                   out_valid,
    input  logic                                   out_ready
);
    localparam int IW = IN_LANES * ELEM_W;
    localparam int OW = OUT_LANES * ELEM_W;

    if (OUT_LANES >= IN_LANES) begin : g_up
        localparam int R = OUT_LANES / IN_LANES;
        logic [OW-1:0] acc;
        logic          full;
        int            cnt;
        assign in_ready  = !full || out_ready;
        assign out_valid = full;
        always_ff @(posedge clk) begin
            if (rst) begin
                cnt  <= 0;
                full <= 1'b0;
            end else begin
                if (full && out_ready) full <= 1'b0;
                if (in_valid && in_ready) begin
                    acc[cnt*IW +: IW] <= in_data[IW-1:0];
                    if (cnt == R - 1) begin
                        cnt  <= 0;
                        full <= 1'b1;
                    end else begin
                        cnt <= cnt + 1;
                    end
                end
            end
        end
        if (HAS_SCALE != 0) begin : g_scale
            logic [7:0] scale;
            always_ff @(posedge clk) if (in_valid && in_ready && cnt == 0) scale <= in_data[IW +: 8];
            assign out_data = {scale, acc};
        end else begin : g_noscale
            assign out_data = acc;
        end
    end else begin : g_down
        localparam int R = IN_LANES / OUT_LANES;
        logic [IW-1:0] hold;
        logic          have;
        int            cnt;
        assign in_ready  = !have || (out_ready && cnt == R - 1);
        assign out_valid = have;
        always_ff @(posedge clk) begin
            if (rst) begin
                cnt  <= 0;
                have <= 1'b0;
            end else begin
                if (have && out_ready) begin
                    if (cnt == R - 1) begin
                        cnt  <= 0;
                        have <= 1'b0;
                    end else begin
                        cnt <= cnt + 1;
                    end
                end
                if (in_valid && in_ready) begin
                    hold <= in_data[IW-1:0];
                    have <= 1'b1;
                end
            end
        end
        if (HAS_SCALE != 0) begin : g_scale
            logic [7:0] scale;
            always_ff @(posedge clk) if (in_valid && in_ready) scale <= in_data[IW +: 8];
            assign out_data = {scale, hold[cnt*OW +: OW]};
        end else begin : g_noscale
            assign out_data = hold[cnt*OW +: OW];
        end
    end
endmodule
"""


HELPERS = {  # generated helper modules (one file each), written into every library
    "mase_width_conv": WIDTH_CONV_SV,
"mase_param_rom": """\
// Streams a ROM of DEPTH words cyclically (word 0 after word DEPTH-1): the learned parameters of a
// norm (scale, bias), one word per beat of a row, for every row. Always valid after reset.
module mase_param_rom #(
    parameter int    WIDTH = 16,
    parameter int    DEPTH = 4,
    parameter        FILE  = "params.hex"  // untyped: Yosys 0.23 rejects `string` here
) (
    input  logic             clk,
    input  logic             rst,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready
);
    logic [WIDTH-1:0] mem [DEPTH];
    int idx;
    initial $readmemh(FILE, mem);
    assign out_valid = !rst;
    assign out_data  = mem[idx];
    always_ff @(posedge clk) begin
        if (rst) idx <= 0;
        else if (out_ready) idx <= (idx == DEPTH - 1) ? 0 : idx + 1;
    end
endmodule
""",
"mase_pos_tag": """\
// Adds the token position above the data of every beat: pos counts tokens, BEATS beats per token
// (softmax rows carry the position of their query token for the causal mask).
module mase_pos_tag #(
    parameter int WIDTH = 20,
    parameter int POS_W = 16,
    parameter int BEATS = 8
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [WIDTH-1:0]       in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    output logic [POS_W+WIDTH-1:0] out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    logic [POS_W-1:0] pos;
    int cnt;
    assign out_data  = {pos, in_data};
    assign out_valid = in_valid;
    assign in_ready  = out_ready;
    always_ff @(posedge clk) begin
        if (rst) begin
            cnt <= 0;
            pos <= '0;
        end else if (in_valid && out_ready) begin
            if (cnt == BEATS - 1) begin
                cnt <= 0;
                pos <= pos + 1'b1;
            end else begin
                cnt <= cnt + 1;
            end
        end
    end
endmodule
""",
"mase_rope_pack": """\
// Natural order -> rotation pairs for mx_rope: per head of HEAD_DIM elements (LANES a beat), the first
// half is buffered and each beat of the second half leaves as {pos, x_hi lanes, x_lo lanes}; the
// position counts tokens (HEADS heads a token).
module mase_rope_pack #(
    parameter int LANES    = 1,
    parameter int W        = 16,
    parameter int HEAD_DIM = 64,
    parameter int HEADS    = 1,
    parameter int POS_W    = 16
) (
    input  logic                           clk,
    input  logic                           rst,
    input  logic [LANES*W-1:0]             in_data,
    input  logic                           in_valid,
    output logic                           in_ready,
    output logic [POS_W+2*LANES*W-1:0]     out_data,
    output logic                           out_valid,
    input  logic                           out_ready
);
    localparam int HB = HEAD_DIM / (2 * LANES);
    logic [LANES*W-1:0] lo [HB];
    logic               hi_half;
    logic [POS_W-1:0]   pos;
    int j, head;
    assign in_ready  = !hi_half || out_ready;
    assign out_valid = hi_half && in_valid;
    assign out_data  = {pos, in_data, lo[j]};
    always_ff @(posedge clk) begin
        if (rst) begin
            j       <= 0;
            head    <= 0;
            hi_half <= 1'b0;
            pos     <= '0;
        end else if (in_valid && in_ready) begin
            if (!hi_half) lo[j] <= in_data;
            if (j == HB - 1) begin
                j       <= 0;
                hi_half <= !hi_half;
                if (hi_half) begin
                    if (head == HEADS - 1) begin
                        head <= 0;
                        pos  <= pos + 1'b1;
                    end else begin
                        head <= head + 1;
                    end
                end
            end else begin
                j <= j + 1;
            end
        end
    end
endmodule
""",
"mase_rope_unpack": """\
// Rotation pairs -> natural order after mx_rope: per head, the x_lo lanes of each beat leave at once
// and the x_hi lanes are buffered, then leave after the head's last pair.
module mase_rope_unpack #(
    parameter int LANES    = 1,
    parameter int W        = 16,
    parameter int HEAD_DIM = 64
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [2*LANES*W-1:0]   in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    output logic [LANES*W-1:0]     out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    localparam int HB = HEAD_DIM / (2 * LANES);
    logic [LANES*W-1:0] hi [HB];
    logic               hi_half;
    int j;
    assign in_ready  = !hi_half && out_ready;
    assign out_valid = hi_half || in_valid;
    assign out_data  = hi_half ? hi[j] : in_data[LANES*W-1:0];
    always_ff @(posedge clk) begin
        if (rst) begin
            j       <= 0;
            hi_half <= 1'b0;
        end else if (out_valid && out_ready) begin
            if (!hi_half) hi[j] <= in_data[2*LANES*W-1:LANES*W];
            if (j == HB - 1) begin
                j       <= 0;
                hi_half <= !hi_half;
            end else begin
                j <= j + 1;
            end
        end
    end
endmodule
""",
}


HELPERS2 = {
"mase_pad": """\
// Zero padding of fixed-point segments: each SEG elements (LANES a beat) are followed by
// SEG_PAD - SEG zeros, so that MX blocks never straddle two segments (e.g. a head shorter than a block).
module mase_pad #(
    parameter int W       = 16,
    parameter int LANES   = 1,
    parameter int SEG     = 16,
    parameter int SEG_PAD = 32
) (
    input  logic               clk,
    input  logic               rst,
    input  logic [LANES*W-1:0] in_data,
    input  logic               in_valid,
    output logic               in_ready,
    output logic [LANES*W-1:0] out_data,
    output logic               out_valid,
    input  logic               out_ready
);
    localparam int IB = SEG / LANES;
    localparam int TB = SEG_PAD / LANES;
    int  cnt;
    logic pad;
    assign pad       = cnt >= IB;
    assign out_data  = pad ? '0 : in_data;
    assign out_valid = pad || in_valid;
    assign in_ready  = !pad && out_ready;
    always_ff @(posedge clk) begin
        if (rst) cnt <= 0;
        else if (out_valid && out_ready) cnt <= (cnt == TB - 1) ? 0 : cnt + 1;
    end
endmodule
""",
"mase_transpose_pad": """\
// Buffers T vectors of F fixed-point elements (LANES a beat, token by token), then streams them
// feature by feature: for each f, the T values of the tokens followed by T_PAD - T zeros (LANES
// tokens a beat), so that a quantizer blocks V along the tokens for the scores x V product.
module mase_transpose_pad #(
    parameter int W     = 16,
    parameter int LANES = 1,
    parameter int F     = 32,
    parameter int T     = 8,
    parameter int T_PAD = 32
) (
    input  logic               clk,
    input  logic               rst,
    input  logic [LANES*W-1:0] in_data,
    input  logic               in_valid,
    output logic               in_ready,
    output logic [LANES*W-1:0] out_data,
    output logic               out_valid,
    input  logic               out_ready
);
    logic [W-1:0] mem [T*F];
    logic drain;
    int wi, rf, rt;
    assign in_ready  = !drain;
    assign out_valid = drain;
    for (genvar i = 0; i < LANES; i++) begin : g_lane
        assign out_data[i*W +: W] = (rt + i < T) ? mem[(rt + i) * F + rf] : '0;
    end
    always_ff @(posedge clk) begin
        if (rst) begin
            wi    <= 0;
            rf    <= 0;
            rt    <= 0;
            drain <= 1'b0;
        end else if (!drain) begin
            if (in_valid) begin
                for (int i = 0; i < LANES; i++) mem[wi + i] <= in_data[i*W +: W];
                if (wi + LANES == T * F) begin
                    wi    <= 0;
                    drain <= 1'b1;
                end else begin
                    wi <= wi + LANES;
                end
            end
        end else if (out_ready) begin
            if (rt + LANES == T_PAD) begin
                rt <= 0;
                if (rf == F - 1) begin
                    rf    <= 0;
                    drain <= 1'b0;
                end else begin
                    rf <= rf + 1;
                end
            end else begin
                rt <= rt + LANES;
            end
        end
    end
endmodule
""",
"mase_attn_matmul": """\
// One attention matrix product for all heads: HEADS instances of mx_matmul (C = A B^T per head),
// grouped-query attention by sharing each of the KV_HEADS B operands with HEADS/KV_HEADS heads.
//   a: rows of A token by token, the HEADS head segments of a token one after the other (D/PAR_D
//      beats each); b: B rows, token by token with KV_HEADS segments (B_GROUP_MAJOR = 0, keys) or
//      group by group, N rows each (B_GROUP_MAJOR = 1, V transposed); out: rows of C (N_PAD beats
//      each), token by token, head after head.
// N_PAD > N: each group's B gets N_PAD - N zero rows after its N rows, so that a row of C is whole
// blocks of K_OUT (the zero outputs are the MX padding of the row; a prompt of any length).
module mase_attn_matmul #(
    parameter int HEADS         = 4,
    parameter int KV_HEADS      = 2,
    parameter int ROWS          = 8,
    parameter int N             = 8,
    parameter int N_PAD         = 8,
    parameter int D             = 32,
    parameter int K             = 32,
    parameter int K_OUT         = 8,
    parameter int PAR_D         = 1,
    parameter int A_WIDTH       = 4,
    parameter int A_EBITS       = 0,
    parameter int B_WIDTH       = 4,
    parameter int B_EBITS       = 0,
    parameter int O_WIDTH       = 8,
    parameter int O_EBITS       = 0,
    parameter int ACC_LSB       = -20,
    parameter int ACC_W         = 32,
    parameter int B_GROUP_MAJOR = 0,
    parameter int A_FIXED_SCALE = -1,  // fixed8 operands / output: constant scale bytes
    parameter int B_FIXED_SCALE = -1,
    parameter int O_FIXED_SCALE = -1
) (
    input  logic                       clk,
    input  logic                       rst,
    input  logic [8+PAR_D*A_WIDTH-1:0] a_data,
    input  logic                       a_valid,
    output logic                       a_ready,
    input  logic [8+PAR_D*B_WIDTH-1:0] b_data,
    input  logic                       b_valid,
    output logic                       b_ready,
    output logic [8+O_WIDTH-1:0]       out_data,
    output logic                       out_valid,
    input  logic                       out_ready
);
    localparam int OW  = 8 + O_WIDTH;
    localparam int BW  = 8 + PAR_D * B_WIDTH;
    localparam int RB  = D / PAR_D;
    localparam int REP = HEADS / KV_HEADS;
    localparam int HW  = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam int GW  = (KV_HEADS > 1) ? $clog2(KV_HEADS) : 1;
    logic [HW-1:0]       a_head, o_head;
    logic [GW-1:0]       b_grp;
    logic [HEADS-1:0]    ha_valid, ha_ready, hb_valid, hb_ready, ho_valid, ho_ready;
    logic [KV_HEADS-1:0] grp_ready;
    logic [HEADS*OW-1:0] ho_data;
    logic [BW-1:0]       bi_data;
    logic                bi_valid, bi_fire, b_pad;
    int a_beat, b_beat, b_row, o_beat;
    // B rows N..N_PAD-1 of every group are zeros made here (zero codes decode to zero at any scale)
    assign b_pad     = b_row >= N;
    assign bi_data   = b_pad ? '0 : b_data;
    assign bi_valid  = b_pad || b_valid;
    assign bi_fire   = bi_valid && grp_ready[b_grp];
    assign a_ready   = ha_ready[a_head];
    assign b_ready   = !b_pad && grp_ready[b_grp];
    assign out_data  = ho_data[o_head*OW +: OW];
    assign out_valid = ho_valid[o_head];
    for (genvar g = 0; g < KV_HEADS; g++) begin : g_grp
        assign grp_ready[g] = &hb_ready[g*REP +: REP];
    end
    for (genvar h = 0; h < HEADS; h++) begin : g_head
        assign ha_valid[h] = a_valid && (a_head == HW'(h));
        assign hb_valid[h] = bi_valid && (b_grp == GW'(h / REP)) && grp_ready[h / REP];
        assign ho_ready[h] = out_ready && (o_head == HW'(h));
        logic [OW-1:0] mm_data;
        logic          mm_valid, mm_ready;
        mx_matmul #(.ROWS(ROWS), .N(N_PAD), .D(D), .K(K), .K_OUT(K_OUT), .PAR_D(PAR_D), .PAR_N(1),
                    .A_WIDTH(A_WIDTH), .A_EBITS(A_EBITS), .B_WIDTH(B_WIDTH), .B_EBITS(B_EBITS),
                    .O_WIDTH(O_WIDTH), .O_EBITS(O_EBITS), .ACC_LSB(ACC_LSB), .ACC_W(ACC_W),
                    .A_FIXED_SCALE(A_FIXED_SCALE), .B_FIXED_SCALE(B_FIXED_SCALE),
                    .O_FIXED_SCALE(O_FIXED_SCALE)) u_mm (
            .clk, .rst, .a_data, .a_valid(ha_valid[h]), .a_ready(ha_ready[h]), .b_data(bi_data),
            .b_valid(hb_valid[h]), .b_ready(hb_ready[h]), .out_data(mm_data), .out_valid(mm_valid),
            .out_ready(mm_ready));
        if (O_FIXED_SCALE >= 0) begin : g_obuf
            // the heads are read in turn; an MX output stage buffers two blocks (mx_quantize), a fixed8
            // one none: this FIFO of the same size keeps each head computing while the others are read
            mx_fifo #(.WIDTH(OW), .DEPTH(1 << $clog2(2 * K_OUT + 2))) u_ob (
                .clk, .rst, .in_data(mm_data), .in_valid(mm_valid), .in_ready(mm_ready),
                .out_data(ho_data[h*OW +: OW]), .out_valid(ho_valid[h]), .out_ready(ho_ready[h]));
        end else begin : g_odirect
            assign ho_data[h*OW +: OW] = mm_data;
            assign ho_valid[h]         = mm_valid;
            assign mm_ready            = ho_ready[h];
        end
    end
    always_ff @(posedge clk) begin
        if (rst) begin
            a_beat <= 0;
            b_beat <= 0;
            b_row  <= 0;
            o_beat <= 0;
            a_head <= '0;
            b_grp  <= '0;
            o_head <= '0;
        end else begin
            if (a_valid && a_ready) begin
                if (a_beat == RB - 1) begin
                    a_beat <= 0;
                    a_head <= (a_head == HW'(HEADS - 1)) ? '0 : a_head + 1'b1;
                end else begin
                    a_beat <= a_beat + 1;
                end
            end
            // B order: beat, then group, then row (keys, token-major) or beat, row, group (V^T)
            if (bi_fire) begin
                if (b_beat != RB - 1) begin
                    b_beat <= b_beat + 1;
                end else begin
                    b_beat <= 0;
                    if (B_GROUP_MAJOR == 0) begin
                        b_grp <= (b_grp == GW'(KV_HEADS - 1)) ? '0 : b_grp + 1'b1;
                        if (b_grp == GW'(KV_HEADS - 1)) b_row <= (b_row == N_PAD - 1) ? 0 : b_row + 1;
                    end else begin
                        b_row <= (b_row == N_PAD - 1) ? 0 : b_row + 1;
                        if (b_row == N_PAD - 1) b_grp <= (b_grp == GW'(KV_HEADS - 1)) ? '0 : b_grp + 1'b1;
                    end
                end
            end
            if (out_valid && out_ready) begin
                if (o_beat == N_PAD - 1) begin
                    o_beat <= 0;
                    o_head <= (o_head == HW'(HEADS - 1)) ? '0 : o_head + 1'b1;
                end else begin
                    o_beat <= o_beat + 1;
                end
            end
        end
    end
endmodule
""",
}
HELPERS.update(HELPERS2)


def header(version: str, cfg_hash: str, what: str, comment: str = "//") -> str:
    return (f"{comment} Generated by mase {version} from config {cfg_hash}: {what}\n"
            f"{comment} Do not edit: re-run mase with the same config to regenerate (byte-identical).\n")


@dataclass
class Region:
    """A set of nodes emitted as one top level, with the edges that cross its border as ports."""

    name: str
    nodes: list[str]
    insts: dict[str, CoreInst]
    inputs: list[tuple[str, str, int]] = field(default_factory=list)  # (port, edge, lanes)
    outputs: list[tuple[str, str, int]] = field(default_factory=list)
    w_ports: list[tuple[str, str, int]] = field(default_factory=list)  # (port, node, width) streamed weights


def map_graph(g: DataflowGraph, plan: HwPlan, roots=None, only=None) -> tuple[dict[str, CoreInst], dict[str, Unmapped]]:
    avail = available_cores(roots)
    ok, missing = {}, {}
    for n in g.nodes:
        if only is not None and n.name not in only:
            continue
        try:
            ok[n.name] = map_node(n, plan.nodes[n.name], g, avail)
        except Unmapped as u:
            missing[n.name] = u
    return ok, missing


def make_region(g: DataflowGraph, name: str, insts: dict[str, CoreInst]) -> Region:
    r = Region(name, [n.name for n in g.nodes if n.name in insts], insts)
    inside = set(r.nodes)
    seen_in, seen_out = set(), set()
    for n in g.nodes:
        if n.name not in inside:
            continue
        inst = insts[n.name]
        for _, e, lanes in inst.inputs:
            prod = g.edges[e].producer
            if (prod not in inside) and e not in seen_in:
                seen_in.add(e)
                r.inputs.append((f"i_{safe(e)}", e, lanes))
        _, e, lanes = inst.output
        edge = g.edges[e]
        if (any(c not in inside for c in edge.consumers) or e in g.outputs or not edge.consumers) and e not in seen_out:
            seen_out.add(e)
            r.outputs.append((f"o_{safe(e)}", e, lanes))
        if inst.w_stream:
            p = inst.params
            r.w_ports.append((f"w_{safe(n.name)}", n.name, p["OUT_PAR"] * (8 + p["IN_PAR"] * p["W_WIDTH"])))
    return r


def _fmt_param(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def _conn(src: str, dst: str) -> list[tuple[str, str]]:
    return [("clk", ""), ("rst", ""), ("in_data", f"{src}_data"), ("in_valid", f"{src}_valid"),
            ("in_ready", f"{src}_ready"), ("out_data", f"{dst}_data"), ("out_valid", f"{dst}_valid"),
            ("out_ready", f"{dst}_ready")]


def _instance(module: str, params: dict, name: str, ports: list[tuple[str, str]]) -> str:
    ps = ",\n".join(f"        .{k}({_fmt_param(v)})" for k, v in params.items())
    pl = ",\n".join(f"        .{p}({s})" if s else f"        .{p}" for p, s in ports)
    return f"    {module} #(\n{ps}\n    ) {name} (\n{pl}\n    );\n"


def emit_top(g: DataflowGraph, plan: HwPlan, r: Region, version: str, cfg_hash: str) -> str:
    inside = set(r.nodes)
    lines: list[str] = []
    decl: list[str] = []
    unused: list[str] = []
    ports = ["    input  logic clk", "    input  logic rst"]
    for port, e, lanes in r.inputs:
        w = width(g.edges[e], lanes)
        ports += [f"    input  logic [{w - 1}:0] {port}_data", f"    input  logic {port}_valid",
                  f"    output logic {port}_ready"]
    for port, node, w in r.w_ports:
        ports += [f"    input  logic [{w - 1}:0] {port}_data", f"    input  logic {port}_valid",
                  f"    output logic {port}_ready"]
    for port, e, lanes in r.outputs:
        w = width(g.edges[e], lanes)
        ports += [f"    output logic [{w - 1}:0] {port}_data", f"    output logic {port}_valid",
                  f"    input  logic {port}_ready"]
    in_ports = {e: (port, lanes) for port, e, lanes in r.inputs}
    out_ports = {e: (port, lanes) for port, e, lanes in r.outputs}
    # every edge used in the region: its source, then one branch per consumer (fork, FIFO, converter)
    edges = []
    for n in r.nodes:
        for _, e, _ in r.insts[n].inputs:
            if e not in edges:
                edges.append(e)
        e = r.insts[n].output[1]
        if e not in edges:
            edges.append(e)
    cons_port: dict[tuple[str, str], str] = {}  # (node, edge) -> signal prefix the node's input reads
    for e in edges:
        edge = g.edges[e]
        src = f"s_{safe(e)}"
        if e in in_ports:
            sp, s_lanes = in_ports[e]
            src = sp
        else:
            s_lanes = r.insts[edge.producer].output[2]
            w = width(edge, s_lanes)
            decl.append(f"    logic [{w - 1}:0] {src}_data;\n    logic {src}_valid, {src}_ready;")
        sinks = [(c, r.insts[c]) for c in edge.consumers if c in inside]
        targets = [(c, next(l for _, ee, l in inst.inputs if ee == e)) for c, inst in sinks]
        if e in out_ports:
            targets.append(("__out__", out_ports[e][1]))
        sw = width(edge, s_lanes)
        if len(targets) == 0:
            continue
        if len(targets) == 1:
            branches = [src]
        else:
            fk = f"fk_{safe(e)}"
            n_t = len(targets)
            decl.append(f"    logic [{n_t * sw - 1}:0] {fk}_data;\n    logic [{n_t - 1}:0] {fk}_valid, {fk}_ready;")
            lines.append(_instance("mx_fork", {"WIDTH": sw, "N": n_t}, f"u_{fk}", [
                ("clk", ""), ("rst", ""), ("in_data", f"{src}_data"), ("in_valid", f"{src}_valid"),
                ("in_ready", f"{src}_ready"), ("out_data", f"{fk}_data"), ("out_valid", f"{fk}_valid"),
                ("out_ready", f"{fk}_ready")]))
            branches = []
            for i in range(n_t):
                b = f"b{i}_{safe(e)}"
                decl.append(f"    logic [{sw - 1}:0] {b}_data;\n    logic {b}_valid, {b}_ready;")
                lines.append(f"    assign {b}_data = {fk}_data[{i * sw} +: {sw}];\n"
                             f"    assign {b}_valid = {fk}_valid[{i}];\n"
                             f"    assign {fk}_ready[{i}] = {b}_ready;\n")
                branches.append(b)
        for (c, lanes), b in zip(targets, branches):
            tag = "out" if c == "__out__" else safe(c)
            depth = 2 if c == "__out__" else plan.nodes[c].fifo_depth.get(e, 2)
            f = f"q_{tag}_{safe(e)}"
            decl.append(f"    logic [{sw - 1}:0] {f}_data;\n    logic {f}_valid, {f}_ready;")
            lines.append(_instance("mx_fifo", {"WIDTH": sw, "DEPTH": depth}, f"u_{f}", [
                ("clk", ""), ("rst", ""), ("in_data", f"{b}_data"), ("in_valid", f"{b}_valid"),
                ("in_ready", f"{b}_ready"), ("out_data", f"{f}_data"), ("out_valid", f"{f}_valid"),
                ("out_ready", f"{f}_ready")]))
            last = f
            if lanes != s_lanes:
                cv = f"cv_{tag}_{safe(e)}"
                cw = width(edge, lanes)
                decl.append(f"    logic [{cw - 1}:0] {cv}_data;\n    logic {cv}_valid, {cv}_ready;")
                ew = edge.fixed[0] if edge.is_fixed else (sw - 8) // s_lanes
                lines.append(_instance("mase_width_conv", {"IN_LANES": s_lanes, "OUT_LANES": lanes, "ELEM_W": ew,
                                                           "HAS_SCALE": 0 if edge.is_fixed else 1}, f"u_{cv}", [
                    ("clk", ""), ("rst", ""), ("in_data", f"{f}_data"), ("in_valid", f"{f}_valid"),
                    ("in_ready", f"{f}_ready"), ("out_data", f"{cv}_data"), ("out_valid", f"{cv}_valid"),
                    ("out_ready", f"{cv}_ready")]))
                last = cv
            if c == "__out__":
                port = out_ports[e][0]
                lines.append(f"    assign {port}_data = {last}_data;\n    assign {port}_valid = {last}_valid;\n"
                             f"    assign {last}_ready = {port}_ready;\n")
            else:
                cons_port[(c, e)] = last
    w_port = {node: port for port, node, _ in r.w_ports}
    for n in r.nodes:
        inst = r.insts[n]
        sn = safe(n)
        pre: list[str] = []
        pl: list[tuple[str, str]] = [("clk", ""), ("rst", "")]
        for k, (prefix, e, lanes) in enumerate(inst.inputs):
            s = cons_port[(n, e)]
            for j, (hmod, hprm, hw) in enumerate(inst.pre if k == 0 else []):  # padding / transposition
                hs = f"h{j}_{sn}"
                decl.append(f"    logic [{hw - 1}:0] {hs}_data;\n    logic {hs}_valid, {hs}_ready;")
                pre.append(_instance(hmod, hprm, f"u_{hs}", _conn(s, hs)))
                s = hs
            if k == 0 and inst.pos:  # position tag (softmax)
                pt, pw = f"pt_{sn}", inst.pos["pos_w"] + inst.pos["width"]
                decl.append(f"    logic [{pw - 1}:0] {pt}_data;\n    logic {pt}_valid, {pt}_ready;")
                pre.append(_instance("mase_pos_tag", {"WIDTH": inst.pos["width"], "POS_W": inst.pos["pos_w"],
                                                      "BEATS": inst.pos["beats"]}, f"u_{pt}", _conn(s, pt)))
                s = pt
            if k == 0 and inst.rope:  # natural order -> rotation pairs (with the position)
                rp, ro = f"rp_{sn}", inst.rope
                pw = ro["pos_w"] + 2 * ro["lanes"] * ro["in_w"]
                decl.append(f"    logic [{pw - 1}:0] {rp}_data;\n    logic {rp}_valid, {rp}_ready;")
                pre.append(_instance("mase_rope_pack", {"LANES": ro["lanes"], "W": ro["in_w"], "HEAD_DIM": ro["head_dim"],
                                                        "HEADS": ro["heads"], "POS_W": ro["pos_w"]}, f"u_{rp}", _conn(s, rp)))
                s = rp
            pl += [(f"{prefix}_data", f"{s}_data"), (f"{prefix}_valid", f"{s}_valid"), (f"{prefix}_ready", f"{s}_ready")]
        if inst.rom:
            prefix, fname, rw, depth = inst.rom
            rs = f"pr_{sn}"
            decl.append(f"    logic [{rw - 1}:0] {rs}_data;\n    logic {rs}_valid, {rs}_ready;")
            pre.append(_instance("mase_param_rom", {"WIDTH": rw, "DEPTH": depth, "FILE": fname}, f"u_{rs}", [
                ("clk", ""), ("rst", ""), ("out_data", f"{rs}_data"), ("out_valid", f"{rs}_valid"),
                ("out_ready", f"{rs}_ready")]))
            pl += [(f"{prefix}_data", f"{rs}_data"), (f"{prefix}_valid", f"{rs}_valid"), (f"{prefix}_ready", f"{rs}_ready")]
        if inst.module == "mx_linear":
            if inst.w_stream:
                wp = w_port[n]
                pl += [("w_data", f"{wp}_data"), ("w_valid", f"{wp}_valid"), ("w_ready", f"{wp}_ready")]
            else:
                wr = f"{sn}_w_ready"
                unused.append(f"    logic {wr};")
                pl += [("w_data", "'0"), ("w_valid", "1'b0"), ("w_ready", wr)]
        prefix, e, lanes = inst.output
        s = f"s_{safe(e)}"
        post = []
        if inst.rope:  # rotation pairs -> natural order
            ro, ru = inst.rope, f"ru_{sn}"
            decl.append(f"    logic [{2 * ro['lanes'] * ro['out_w'] - 1}:0] {ru}_data;\n    logic {ru}_valid, {ru}_ready;")
            post.append(_instance("mase_rope_unpack", {"LANES": ro["lanes"], "W": ro["out_w"], "HEAD_DIM": ro["head_dim"]},
                                  f"u_{ru}", _conn(ru, s)))
            s = ru
        if inst.out_zext:  # unsigned lanes zero-extended onto the edge's signed format
            fw, tw = inst.out_zext
            zx = f"zx_{sn}"
            decl.append(f"    logic [{lanes * fw - 1}:0] {zx}_data;")
            parts = ", ".join(f"{{{tw - fw}{{1'b0}}}}, {zx}_data[{i * fw} +: {fw}]" for i in reversed(range(lanes)))
            post.append(f"    assign {s}_data = {{{parts}}};\n")
            pl += [(f"{prefix}_data", f"{zx}_data"), (f"{prefix}_valid", f"{s}_valid"), (f"{prefix}_ready", f"{s}_ready")]
        else:
            pl += [(f"{prefix}_data", f"{s}_data"), (f"{prefix}_valid", f"{s}_valid"), (f"{prefix}_ready", f"{s}_ready")]
        lines.append(f"    // {n} ({g.node(n).op})\n" + "".join(pre)
                     + _instance(inst.module, inst.params, f"u_{sn}", pl) + "".join(post))
    doc = (f"// {r.name}: {len(r.nodes)} nodes of {g.model} ({g.family}), quant {g.quant}, prompt {g.seq_len} tokens.\n"
           f"// Streams are valid/ready; every consumer reads through its own FIFO (depths in params.json).\n")
    body = "\n".join(decl)
    if unused:
        body += "\n    /* verilator lint_off UNUSEDSIGNAL */\n" + "\n".join(unused) + "\n    /* verilator lint_on UNUSEDSIGNAL */"
    return (header(version, cfg_hash, f"top level {r.name}") + doc + f"module {r.name} (\n" + ",\n".join(ports)
            + "\n);\n" + body + "\n\n" + "\n".join(lines) + "endmodule\n")


def emit_tb(g: DataflowGraph, r: Region, beats: dict[str, int], version: str, cfg_hash: str) -> str:
    tb = f"tb_{r.name}"
    s = [header(version, cfg_hash, f"self-checking testbench of {r.name}"),
         f"// Plays <dir>/<port>.hex into every input, compares every output beat with <exp>/<port>.exp\n"
         f"// (golden model), prints MASE_TB_CHECK per output and MASE_TB_PASS / MASE_TB_FAIL.\n",
         f"module {tb} (\n    input logic clk\n);\n    logic rst;\n    string exp_dir;\n",
         "    initial if (!$value$plusargs(\"exp=%s\", exp_dir)) exp_dir = \".\";\n"]
    dones, body = [], []
    for k, (port, e, lanes) in enumerate(r.inputs):
        w = width(g.edges[e], lanes)
        s.append(f"    logic [{w - 1}:0] {port}_data;\n    logic {port}_valid, {port}_ready, {port}_done;\n"
                 f"    int {port}_c0, {port}_c1;")
        body.append(_instance("mx_tb_source", {"WIDTH": w, "MAX_BEATS": max(1, beats[port]), "NAME": port,
                                               "SALT": 3 + 2 * k}, f"u_src_{port}", [
            ("clk", ""), ("rst", ""), ("out_data", f"{port}_data"), ("out_valid", f"{port}_valid"),
            ("out_ready", f"{port}_ready"), ("done", f"{port}_done"), ("first_cycle", f"{port}_c0"),
            ("last_cycle", f"{port}_c1")]))
        dones.append(f"{port}_done")
    for port, node, w in r.w_ports:
        s.append(f"    logic [{w - 1}:0] {port}_data;\n    logic {port}_valid, {port}_ready, {port}_done;\n"
                 f"    int {port}_c0, {port}_c1;")
        body.append(_instance("mx_tb_source", {"WIDTH": w, "MAX_BEATS": max(1, beats[port]), "NAME": port, "SALT": 101},
                              f"u_src_{port}", [
            ("clk", ""), ("rst", ""), ("out_data", f"{port}_data"), ("out_valid", f"{port}_valid"),
            ("out_ready", f"{port}_ready"), ("done", f"{port}_done"), ("first_cycle", f"{port}_c0"),
            ("last_cycle", f"{port}_c1")]))
        dones.append(f"{port}_done")
    checks = []
    for k, (port, e, lanes) in enumerate(r.outputs):
        w = width(g.edges[e], lanes)
        n = max(1, beats[port])
        s.append(f"    logic [{w - 1}:0] {port}_data;\n    logic {port}_valid, {port}_ready, {port}_done;\n"
                 f"    int {port}_c0, {port}_c1, {port}_idx, {port}_err;\n    logic [{w - 1}:0] {port}_exp [{n}];")
        body.append(_instance("mx_tb_sink", {"WIDTH": w, "NAME": port, "SALT": 7 + 2 * k}, f"u_snk_{port}", [
            ("clk", ""), ("rst", ""), ("in_data", f"{port}_data"), ("in_valid", f"{port}_valid"),
            ("in_ready", f"{port}_ready"), ("done", f"{port}_done"), ("first_cycle", f"{port}_c0"),
            ("last_cycle", f"{port}_c1")]))
        body.append(f"    initial $readmemh({{exp_dir, \"/{port}.exp\"}}, {port}_exp);\n"
                    f"    always_ff @(posedge clk) begin\n"
                    f"        if (rst) begin\n            {port}_idx <= 0;\n            {port}_err <= 0;\n"
                    f"        end else if ({port}_valid && {port}_ready) begin\n"
                    f"            if ({port}_idx >= {n} || {port}_data !== {port}_exp[{port}_idx]) begin\n"
                    f"                {port}_err <= {port}_err + 1;\n"
                    f"                if ({port}_err < 4) $display(\"MASE_TB_MISMATCH {port} beat %0d got %h expected %h\",\n"
                    f"                    {port}_idx, {port}_data, {port}_exp[{port}_idx]);\n"
                    f"            end\n            {port}_idx <= {port}_idx + 1;\n        end\n    end\n")
        checks.append(port)
        dones.append(f"{port}_done")
    conns = [("clk", ""), ("rst", "")]
    for port, _, _ in r.inputs + r.outputs:
        conns += [(f"{port}_data", f"{port}_data"), (f"{port}_valid", f"{port}_valid"), (f"{port}_ready", f"{port}_ready")]
    for port, _, _ in r.w_ports:
        conns += [(f"{port}_data", f"{port}_data"), (f"{port}_valid", f"{port}_valid"), (f"{port}_ready", f"{port}_ready")]
    pl = ",\n".join(f"        .{p}({q})" if q else f"        .{p}" for p, q in conns)
    body.append(f"    {r.name} dut (\n{pl}\n    );\n")
    body.append(f"    mx_tb_ctrl ctrl (.clk, .rst, .done({' && '.join(dones) or '1b1'}));\n")
    fin = "".join(f"        $display(\"MASE_TB_CHECK {p} beats=%0d errors=%0d first=%0d last=%0d\", {p}_idx, {p}_err, "
                  f"{p}_c0, {p}_c1);\n" for p in checks)
    firsts = " ".join(f"{p}=%0d" for p, _, _ in r.inputs)
    fin += (f"        $display(\"MASE_TB_INPUTS {firsts}\"{''.join(f', {p}_c0' for p, _, _ in r.inputs)});\n" if r.inputs else "")
    # a pass needs every expected beat (a timeout stops the run with beats missing)
    fin += ("        if (" + " || ".join(f"{p}_err != 0 || {p}_idx != {beats[p]}" for p in checks)
            + ") $display(\"MASE_TB_FAIL\");\n        else $display(\"MASE_TB_PASS\");\n") if checks else ""
    body.append(f"    final begin\n{fin}    end\n")
    return "".join(x + "\n" for x in s) + "\n" + "\n".join(body) + "endmodule\n"


def emit_core(r: Region, deps: list[str], mem_files: list[str], stim_ports: list[str], version: str, cfg_hash: str,
              target: Any, vlnv: str | None = None) -> str:
    y = ["CAPI=2:", header(version, cfg_hash, f"FuseSoC core of {r.name}", "#").rstrip("\n"),
         f"name: {vlnv or f'mase:gen:{r.name}:{version}'}",
         f"description: generated dataflow accelerator {r.name} (mase)", "", "filesets:", "  rtl:", "    files:",
         *[f"      - rtl/{h}.sv" for h in sorted(HELPERS)], f"      - rtl/{r.name}.sv",
         "    file_type: systemVerilogSource",
         "    depend: [" + ", ".join(f'"{d}"' for d in deps) + "]"]
    if mem_files:
        y += ["  mem:", "    files:"] + [f"      - mem/{m}: {{copyto: {m}}}" for m in mem_files] + ["    file_type: user"]
    y += ["  tb:", "    files:", f"      - tb/tb_{r.name}.sv", "    file_type: systemVerilogSource",
          '    depend: ["mase:mx:tb"]',
          "  xdc:", "    files: [constraints/clock.xdc]", "    file_type: xdc",
          "  sdc:", "    files: [constraints/clock.sdc]", "    file_type: SDC", "", "targets:"]
    mem = ", mem" if mem_files else ""
    part = getattr(target, "part", None) or "xcu250-figd2104-2L-e"
    plus = ", ".join(["dir", "exp", "seed", "stall", "bp", "max_cycles"] + [f"{p}_n" for p in stim_ports])
    y += ["  default: &default", f"    filesets: [rtl{mem}]", f"    toplevel: {r.name}",
          "  lint:", "    <<: *default", "    default_tool: verilator", "    tools:", "      verilator:",
          "        mode: lint-only", "        verilator_options: [-Wall]",
          "  sim:", "    default_tool: verilator", f"    filesets: [rtl{mem}, tb]", f"    toplevel: tb_{r.name}",
          f"    parameters: [{plus}]", "    tools:", "      verilator:", "        mode: cc",
          f"        verilator_options: [-CFLAGS -DVTOP=Vtb_{r.name}, --x-assign unique, --x-initial unique, -Wno-fatal]",
          "        make_options: [-j2, OPT_FAST=-O0, OPT_SLOW=-O0, OPT_GLOBAL=-O0]",
          "  synth:", "    <<: *default", "    default_tool: yosys", "    tools:", "      yosys:",
          "        arch: ice40", "        output_format: json",
          "  synth_xcup:", "    <<: *default", "    default_tool: yosys", "    tools:", "      yosys:",
          "        arch: xilinx", "        output_format: json", "        yosys_synth_options: [-family xcup]",
          # place and route: mase.flows.nextpnr writes a wrapper core per unit (the ports of the design
          # need nextpnr-ecp5's --out-of-context or, on iCE40, a shift-register I/O harness)
          "  vivado:", "    default_tool: vivado", f"    filesets: [rtl{mem}, xdc]", f"    toplevel: {r.name}",
          "    tools:", "      vivado:", f"        part: {part}", "", "parameters:"]
    docs = {"dir": ("str", "folder of the stimulus <port>.hex and of the outputs <port>.out"),
            "exp": ("str", "folder of the expected outputs <port>.exp"), "seed": ("int", "random stall seed"),
            "stall": ("int", "percent of idle input cycles"), "bp": ("int", "percent of not-ready output cycles"),
            "max_cycles": ("int", "timeout")}
    for k, (t, d) in docs.items():
        y.append(f"  {k}: {{datatype: {t}, paramtype: plusarg, description: {d}}}")
    for p in stim_ports:
        y.append(f"  {p}_n: {{datatype: int, paramtype: plusarg, description: beats on port {p}}}")
    return "\n".join(y) + "\n"


# ------------------------------------------------------------------------------------------------
# stream beats
# ------------------------------------------------------------------------------------------------
def edge_beats(e: Edge, val, lanes: int) -> list[str]:
    """Hex beats of an edge's golden value, as the stream carries it with `lanes` elements a beat."""
    from mase.eda.mx_linear import format_params, pack_words

    if e.is_fixed:
        w, _ = e.fixed
        d = val.data.to(torch.int64).reshape(-1, lanes).numpy()
        return pack_words(d, w)
    w, _ = format_params(e.fmt)
    codes = val.data.to(torch.int64) & ((1 << w) - 1)  # (T, nseg, nb, k)
    k = codes.shape[-1]
    c = codes.reshape(-1, lanes).numpy()
    sc = val.scales.to(torch.int64).reshape(-1, 1).expand(-1, k // lanes).reshape(-1, 1).numpy()
    return _mx_words(c, sc, w)


def _mx_words(c, sc, w) -> list[str]:
    from mase.eda.mx_linear import pack_words

    lanes = c.shape[1]
    body = pack_words(c, w)
    scale = pack_words(sc, 8)
    digits = -(-(8 + lanes * w) // 4)
    out = []
    for b, s in zip(body, scale):
        out.append(format((int(s, 16) << (lanes * w)) | int(b, 16), f"0{digits}x"))
    return out


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def json_text(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n"
