// exp(c (x - max)) of one lane for mx_softmax, in Q.16 (combinational), 0 when the element is masked:
//   u = max - x; t = round(u * LOG2E_Q / 2**(IN_F + 6)) (Q.8); e = EXP2[t mod 256] >> min(t div 256, 17).
// LOG2E_Q = round(c log2(e) 2**14): c = 1, or the part of 1/sqrt(head_dim) that is not a power of two
// (mase.golden.nonlinear.softmax_log2e_q); at most 16 bits (the product is IN_W + 1 by 16 bits).
module mx_softmax_exp #(
    parameter int IN_W    = 20,
    parameter int IN_F    = 10,
    parameter int LOG2E_Q = 23637
) (
    input  logic signed [IN_W-1:0] in_x,
    input  logic signed [IN_W-1:0] in_max,
    input  logic                   in_kept,
    output logic [16:0]            out_e
);
    localparam int TS = IN_F + 14 - 8;  // LOG2E_F - EXP_LUT_BITS
    localparam int UW = IN_W + 1;
    localparam int MW = UW + 16;

    generate
        if (LOG2E_Q < 1 || LOG2E_Q > 65535) begin : g_bad_log2e
            $error("mx_softmax_exp: LOG2E_Q must be in 1..65535 (mase.golden.nonlinear.softmax_log2e_q)");
        end
    endgenerate

    logic [UW-1:0] u;
    logic [MW-1:0] um, t;
    logic [7:0]    r;
    /* verilator lint_off UNUSEDSIGNAL */  // n >= 17 only needs the saturating compare
    logic [MW-9:0] n;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [4:0]    sh;
    logic [16:0]   lut;

    assign u  = in_kept ? UW'(UW'(in_max) - UW'(in_x)) : '0;
    assign um = MW'(u) * MW'(LOG2E_Q);
    assign t  = (um + (MW'(1) << (TS - 1))) >> TS;
    assign r  = t[7:0];
    assign n  = t[MW-1:8];
    assign sh = (n > (MW-8)'(17)) ? 5'd17 : n[4:0];
    mx_exp2_rom rom (.in_addr(r), .out_data(lut));
    assign out_e = in_kept ? (lut >> sh) : 17'd0;
endmodule
