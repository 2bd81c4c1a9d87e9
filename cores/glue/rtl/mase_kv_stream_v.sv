// The V cache of the KV-cache decode design kept in off-chip memory (hw.kv_cache=offchip), in place of
// mase_transpose_pad STEP 1: for every token (and every bank: one per decoder layer a folded hardware
// layer computes, served in turn) it takes the token's F values (`in`, LANES a beat), sends each of them
// on `wr` (one element a beat, EB bits: a DMA channel writes element f of token t into row f of the
// cache, V transposed), then drains V^T as mase_transpose_pad does: for each feature f, T_PAD / LANES
// beats of LANES tokens, the tokens < t from `rd` (row f of the cache read back, LANES elements of EB
// bits a beat, ceil(t / LANES) beats a row; lanes at or after t are not used), token t from the values
// just taken, zeros after it. The token advances after the last bank and wraps after T tokens.
module mase_kv_stream_v #(
    parameter int W     = 16,  // a value (the V quantizer's fixed-point input)
    parameter int EB    = 16,  // bits of a value in memory (W rounded up to 1, 2, 4 or 8 bytes)
    parameter int LANES = 1,
    parameter int F     = 32,
    parameter int T     = 32,
    parameter int T_PAD = 32,
    parameter int BANKS = 1
) (
    input  logic                clk,
    input  logic                rst,
    input  logic [LANES*W-1:0]  in_data,
    input  logic                in_valid,
    output logic                in_ready,
    input  logic [LANES*EB-1:0] rd_data,
    input  logic                rd_valid,
    output logic                rd_ready,
    output logic [EB-1:0]       wr_data,
    output logic                wr_valid,
    input  logic                wr_ready,
    output logic [LANES*W-1:0]  out_data,
    output logic                out_valid,
    input  logic                out_ready
);
    localparam int FW = (F > 1) ? $clog2(F) : 1;
    localparam int FR = F / LANES;  // rows of the token's buffer: an input beat each (one write port)
    localparam int RW = (FR > 1) ? $clog2(FR) : 1;
    localparam int TW = $clog2(T_PAD + 1);
    localparam int KW = (BANKS > 1) ? $clog2(BANKS) : 1;
    logic [LANES*W-1:0] buf_v [FR];
    logic [RW-1:0] fi;
    logic [FW-1:0] wf, rf;
    logic [TW-1:0] tok, rt;     // the token being written; the first token of the drain's beat
    logic [KW-1:0] bank;
    logic          fill, writing, need, fire;
    assign in_ready = fill && !writing;
    assign wr_valid = writing;
    // value f of the token: lane f mod LANES of row f / LANES
    function automatic logic [W-1:0] value(input logic [FW-1:0] f);
        logic [LANES*W-1:0] row;
        logic [31:0] fl;
        fl  = {{(32 - FW){1'b0}}, f};
        row = buf_v[RW'(fl / LANES)];
        value = row[(fl % LANES)*W +: W];
    endfunction
    assign wr_data  = EB'(value(wf));  // zero-extended: the stored bytes above W are 0 (unused)
    // the drain: a beat needs a read beat while its first token is an earlier one
    assign need      = !fill && rt < tok;
    assign out_valid = !fill && (!need || rd_valid);
    assign rd_ready  = need && out_ready;
    assign fire      = out_valid && out_ready;
    for (genvar i = 0; i < LANES; i++) begin : g_lane
        logic [TW-1:0] tl;
        assign tl = rt + TW'(i);
        assign out_data[i*W +: W] = (tl < tok) ? rd_data[i*EB +: W] : (tl == tok) ? value(rf) : '0;
    end
    always_ff @(posedge clk) begin
        if (in_valid && in_ready) buf_v[fi] <= in_data;
    end
    always_ff @(posedge clk) begin
        if (rst) begin
            fi      <= '0;
            wf      <= '0;
            rf      <= '0;
            rt      <= '0;
            tok     <= '0;
            bank    <= '0;
            fill    <= 1'b1;
            writing <= 1'b0;
        end else begin
            if (in_valid && in_ready) begin
                fi <= (fi == RW'(FR - 1)) ? '0 : fi + 1'b1;
                if (fi == RW'(FR - 1)) begin  // the token's values are in: write them, drain V^T
                    fill    <= 1'b0;
                    writing <= 1'b1;
                end
            end
            if (writing && wr_ready) begin
                wf <= (wf == FW'(F - 1)) ? '0 : wf + 1'b1;
                if (wf == FW'(F - 1)) writing <= 1'b0;
            end
            if (fire) begin
                if (rt + TW'(LANES) == TW'(T_PAD)) begin
                    rt <= '0;
                    rf <= (rf == FW'(F - 1)) ? '0 : rf + 1'b1;
                    if (rf == FW'(F - 1)) begin
                        fill <= 1'b1;
                        bank <= (bank == KW'(BANKS - 1)) ? '0 : bank + 1'b1;
                        if (bank == KW'(BANKS - 1)) tok <= (tok == TW'(T - 1)) ? '0 : tok + 1'b1;
                    end
                end else begin
                    rt <= rt + TW'(LANES);
                end
            end
        end
    end
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused_rd;  // the stored bits above W (EB > W) are zeros
    assign unused_rd = ^rd_data;
    /* verilator lint_on UNUSEDSIGNAL */
    initial if (EB < W || F % LANES != 0 || T_PAD % LANES != 0)
        $fatal(1, "mase_kv_stream_v: EB %0d < W %0d, or LANES %0d does not divide F %0d and T_PAD %0d", EB, W, LANES, F, T_PAD);
endmodule
