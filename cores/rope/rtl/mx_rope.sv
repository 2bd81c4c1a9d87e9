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
// Pipelined, every register enabled by ce = !out_valid || out_ready (= in_ready); one beat per cycle,
// latency 10 cycles: FREQ[i] | pos * FREQ (two 16-bit halves) | phase sum, rounded to the angle |
// the two table reads | a plain register (block RAM output) | quadrant | the four products | the two
// sums | round | saturate.
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

    localparam int LAT = 10;

    logic             ce;
    logic [LAT-2:0]   vs;
    logic [CW-1:0]    beat;
    logic [POS_W-1:0] pos, pos1;

    assign ce       = !out_valid || out_ready;
    assign in_ready = ce;
    assign pos      = in_data[2*LANES*IN_W +: POS_W];

    always_ff @(posedge clk) begin
        if (rst) begin
            beat      <= '0;
            vs        <= '0;
            out_valid <= 1'b0;
        end else if (ce) begin
            vs        <= {vs[LAT-3:0], in_valid};
            out_valid <= vs[LAT-2];
            if (in_valid) beat <= (beat == CW'(BPV - 1)) ? '0 : beat + 1'b1;
        end
    end
    always_ff @(posedge clk) if (ce) pos1 <= pos;

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic [IW-1:0]           idx;
            logic [31:0]             freq1;
            logic [31:0]             pm_lo;
            logic [15:0]             pm_hi;
            /* verilator lint_off UNUSEDSIGNAL */  // only the fraction of a turn (low 32 bits) matters
            logic [31:0]             phase_r;  // the angle keeps its top 12 bits
            /* verilator lint_on UNUSEDSIGNAL */
            logic [11:0]             ang3;
            logic signed [IN_W-1:0]  xl, xh, xld [6], xhd [6];
            logic [1:0]              quad4, quad5;
            logic [10:0]             j, jc;
            logic [16:0]             sj, sc, sj4, sc4, sj5, sc5;
            logic signed [17:0]      sn, cs, sn5, cs5;
            logic signed [PW-1:0]    p_lc, p_hs, p_hc, p_ls, pl, ph;
            logic signed [OUT_W-1:0] yl, yh;

            assign idx = IW'(beat) * IW'(LANES) + IW'(l);
            assign xl  = $signed(in_data[l*IN_W +: IN_W]);
            assign xh  = $signed(in_data[(LANES + l)*IN_W +: IN_W]);
            always_ff @(posedge clk) if (ce) begin
                freq1  <= FTAB[32*idx +: 32];
                xld[0] <= xl;
                xhd[0] <= xh;
                for (int i = 1; i < 6; i++) begin
                    xld[i] <= xld[i-1];
                    xhd[i] <= xhd[i-1];
                end
                // pos * FREQ mod 2**32 as two 16-bit halves of FREQ
                pm_lo  <= 32'((POS_W + 16)'(pos1) * (POS_W + 16)'(freq1[15:0]));
                pm_hi  <= 16'((POS_W + 16)'(pos1) * (POS_W + 16)'(freq1[31:16]));
            end
            assign phase_r = pm_lo + {pm_hi, 16'd0} + 32'h80000;  // round to 12 bits of a turn
            always_ff @(posedge clk) if (ce) ang3 <= phase_r[31:20];

            assign j  = {1'b0, ang3[9:0]};
            assign jc = 11'd1024 - j;
            mx_sin_rom srom_j (.in_addr(j), .out_data(sj));
            mx_sin_rom srom_c (.in_addr(jc), .out_data(sc));
            always_ff @(posedge clk) if (ce) begin
                sj4   <= sj;
                sc4   <= sc;
                quad4 <= ang3[11:10];
                sj5   <= sj4;
                sc5   <= sc4;
                quad5 <= quad4;
            end
            always_comb begin
                case (quad5)
                    2'd0: begin sn = $signed({1'b0, sj5});  cs = $signed({1'b0, sc5});  end
                    2'd1: begin sn = $signed({1'b0, sc5});  cs = -$signed({1'b0, sj5}); end
                    2'd2: begin sn = -$signed({1'b0, sj5}); cs = -$signed({1'b0, sc5}); end
                    default: begin sn = -$signed({1'b0, sc5}); cs = $signed({1'b0, sj5}); end
                endcase
            end
            always_ff @(posedge clk) if (ce) begin
                sn5  <= sn;
                cs5  <= cs;
                p_lc <= PW'(xld[5]) * PW'(cs5);
                p_hs <= PW'(xhd[5]) * PW'(sn5);
                p_hc <= PW'(xhd[5]) * PW'(cs5);
                p_ls <= PW'(xld[5]) * PW'(sn5);
                pl   <= p_lc - p_hs;
                ph   <= p_hc + p_ls;
            end
            mx_round_sat_pipe #(.IN_W(PW), .SHIFT(16 + IN_F - OUT_F), .OUT_W(OUT_W)) rs_l (.clk, .ce, .in_data(pl),
                .out_data(yl));
            mx_round_sat_pipe #(.IN_W(PW), .SHIFT(16 + IN_F - OUT_F), .OUT_W(OUT_W)) rs_h (.clk, .ce, .in_data(ph),
                .out_data(yh));
            assign out_data[l*OUT_W +: OUT_W]           = yl;
            assign out_data[(LANES + l)*OUT_W +: OUT_W] = yh;
        end
    endgenerate
endmodule
