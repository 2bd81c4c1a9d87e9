// Rotary position embedding (mase.golden.nonlinear.rope_int), LANES rotation pairs per beat.
// A head vector of HEAD_DIM elements is HEAD_DIM/2 pairs (x_lo = x[i], x_hi = x[i + HEAD_DIM/2]) sent as
// HEAD_DIM/(2 LANES) beats in pair order; the core counts the pair index itself.
//   in_data  = {pos[POS_W-1:0], x_hi lanes (LANES x IN_W), x_lo lanes (LANES x IN_W)}, lane 0 lowest
//   out_data = {y_hi lanes (LANES x OUT_W), y_lo lanes (LANES x OUT_W)}
// Angle in turns: phase = pos * FREQ[i] mod 2**32, rounded to 12 bits; sin/cos from a quarter-wave
// table (Q.16) by symmetry;
//   y_lo = sat(round((x_lo cos - x_hi sin) 2**(OUT_F - IN_F - 16))), y_hi = ... (x_hi cos + x_lo sin).
// FREQ[i] (Q0.32 turns per position) comes from the model (mase.golden.nonlinear_tables.rope_freqs:
// any theta, and the scaled RoPE variants) as the hex text FREQS, 8 digits a pair, pair HEAD_DIM/2-1
// first, i.e. it reads as a hex literal with pair 0 in the low bits. Text, because a parameter of
// HEAD_DIM/2 x 32 bits has no portable decimal form; untyped, because Yosys 0.23 rejects `string`.
// Latency 3 cycles, one beat per cycle.
module mx_rope #(
    parameter int LANES    = 1,
    parameter int HEAD_DIM = 64,
    parameter     FREQS    = "",
    parameter int POS_W    = 16,
    parameter int IN_W     = 16,
    parameter int IN_F     = 10,
    parameter int OUT_W    = 16,
    parameter int OUT_F    = 10
) (
    input  logic                           clk,
    input  logic                           rst,
    input  logic [POS_W+2*LANES*IN_W-1:0]  in_data,
    input  logic                           in_valid,
    output logic                           in_ready,
    output logic [2*LANES*OUT_W-1:0]       out_data,
    output logic                           out_valid,
    input  logic                           out_ready
);
    localparam int HALF = HEAD_DIM / 2;
    localparam int BPV  = HALF / LANES;  // beats per head vector
    localparam int CW   = (BPV > 1) ? $clog2(BPV) : 1;
    localparam int PW   = IN_W + 18 + 1;
    localparam int NF   = 32 * HALF;
    localparam int IW   = (HALF > 1) ? $clog2(HALF) : 1;  // pair index

    // FREQS text -> {bad digit, FREQ[HALF-1], ..., FREQ[0]}
    function automatic logic [NF:0] parse_freqs(input int unused);
        logic [7:0] c;
        parse_freqs = '0;
        for (int k = 0; k < NF / 4; k++) begin
            c = FREQS[8*k +: 8];
            if (c >= 8'h30 && c <= 8'h39) parse_freqs[4*k +: 4] = c[3:0];
            else if ((c >= 8'h41 && c <= 8'h46) || (c >= 8'h61 && c <= 8'h66)) parse_freqs[4*k +: 4] = c[3:0] + 4'd9;
            else parse_freqs[NF] = 1'b1;
        end
    endfunction
    localparam logic [NF:0] FTAB = parse_freqs(0);

    generate
        if (HEAD_DIM < 2 || HEAD_DIM % 2 != 0 || HALF % LANES != 0) begin : g_bad_dim
            $error("mx_rope: HEAD_DIM must be even and LANES must divide HEAD_DIM/2");
        end
`ifdef YOSYS
        if ($bits(FREQS) > 8 && ($bits(FREQS) != 2 * NF || FTAB[NF])) begin : g_bad_freqs  // Yosys elaborates the default too
`else
        if ($bits(FREQS) != 2 * NF || FTAB[NF]) begin : g_bad_freqs
`endif
            $error("mx_rope: FREQS must be HEAD_DIM/2 words of 8 hex digits (mase.golden.nonlinear_tables.rope_freqs_hex)");
        end
    endgenerate

    logic          ce, v1, v2;
    logic [CW-1:0] beat;
    logic [POS_W-1:0] pos;

    assign ce       = !out_valid || out_ready;
    assign in_ready = ce;
    assign pos      = in_data[2*LANES*IN_W +: POS_W];

    always_ff @(posedge clk) begin
        if (rst) begin
            beat      <= '0;
            v1        <= 1'b0;
            v2        <= 1'b0;
            out_valid <= 1'b0;
        end else if (ce) begin
            v1        <= in_valid;
            v2        <= v1;
            out_valid <= v2;
            if (in_valid) beat <= (beat == CW'(BPV - 1)) ? '0 : beat + 1'b1;
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic [IW-1:0]           idx;
            logic [31:0]             freq;
            /* verilator lint_off UNUSEDSIGNAL */  // only the fraction of a turn (low 32 bits) matters
            logic [POS_W+31:0]       phase;
            logic [31:0]             phase_r;  // the angle keeps its top 12 bits
            /* verilator lint_on UNUSEDSIGNAL */
            logic [11:0]             ang, ang1;
            logic signed [IN_W-1:0]  xl, xh, xl1, xh1, xl2, xh2;
            logic [1:0]              quad;
            logic [10:0]             j, jc;
            logic [16:0]             sj, sc;
            logic signed [17:0]      sn, cs, sn2, cs2;
            logic signed [PW-1:0]    pl, ph;
            logic signed [OUT_W-1:0] yl, yh;

            assign idx  = IW'(beat) * IW'(LANES) + IW'(l);
            assign freq = FTAB[32*idx +: 32];
            assign phase   = (POS_W + 32)'(pos) * (POS_W + 32)'(freq);
            assign phase_r = phase[31:0] + 32'h80000;  // round to 12 bits of a turn
            assign ang     = phase_r[31:20];
            assign xl      = $signed(in_data[l*IN_W +: IN_W]);
            assign xh      = $signed(in_data[(LANES + l)*IN_W +: IN_W]);

            always_ff @(posedge clk) if (ce) begin
                ang1 <= ang;
                xl1  <= xl;
                xh1  <= xh;
            end

            assign quad = ang1[11:10];
            assign j    = {1'b0, ang1[9:0]};
            assign jc   = 11'd1024 - j;
            mx_sin_rom srom_j (.in_addr(j), .out_data(sj));
            mx_sin_rom srom_c (.in_addr(jc), .out_data(sc));
            always_comb begin
                case (quad)
                    2'd0: begin sn = $signed({1'b0, sj});  cs = $signed({1'b0, sc});  end
                    2'd1: begin sn = $signed({1'b0, sc});  cs = -$signed({1'b0, sj}); end
                    2'd2: begin sn = -$signed({1'b0, sj}); cs = -$signed({1'b0, sc}); end
                    default: begin sn = -$signed({1'b0, sc}); cs = $signed({1'b0, sj}); end
                endcase
            end

            always_ff @(posedge clk) if (ce) begin
                sn2 <= sn;
                cs2 <= cs;
                xl2 <= xl1;
                xh2 <= xh1;
            end

            assign pl = PW'(xl2) * PW'(cs2) - PW'(xh2) * PW'(sn2);
            assign ph = PW'(xh2) * PW'(cs2) + PW'(xl2) * PW'(sn2);
            mx_round_sat #(.IN_W(PW), .SHIFT(16 + IN_F - OUT_F), .OUT_W(OUT_W)) rs_l (.in_data(pl), .out_data(yl));
            mx_round_sat #(.IN_W(PW), .SHIFT(16 + IN_F - OUT_F), .OUT_W(OUT_W)) rs_h (.in_data(ph), .out_data(yh));
            always_ff @(posedge clk) if (ce) begin
                out_data[l*OUT_W +: OUT_W]           <= yl;
                out_data[(LANES + l)*OUT_W +: OUT_W] <= yh;
            end
        end
    endgenerate
endmodule
