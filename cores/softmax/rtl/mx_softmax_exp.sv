// exp(c (x - max)) of one lane for mx_softmax, in Q.16, 0 when the element is masked:
//   u = max - x; t = round(u * LOG2E_Q / 2**(IN_F + 6)) (Q.8); e = EXP2[t mod 256] >> min(t div 256, 17).
// LOG2E_Q = round(c log2(e) 2**14): c = 1, or the part of 1/sqrt(head_dim) that is not a power of two
// (mase.golden.nonlinear.softmax_log2e_q); at most 16 bits (the product is IN_W + 1 by 16 bits).
// Pipelined, every register enabled by ce; latency LAT = 8 cycles (out_e registered):
// u | u * LOG2E_Q (mx_mul_pipe, three stages) | t: its table index and t div 256 | the table read and
// the shift min(t div 256, 17) | a plain register (block RAM output) | shift.
module mx_softmax_exp #(
    parameter int IN_W    = 20,
    parameter int IN_F    = 10,
    parameter int LOG2E_Q = 23637,
    parameter int LAT     = 8  // fixed; a parameter so that users can read it
) (
    input  logic                   clk,
    input  logic                   ce,
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
        if (LAT != 8) begin : g_bad_lat
            $error("mx_softmax_exp: LAT is 8");
        end
    endgenerate

    logic [UW-1:0]        u1;
    logic [6:0]           kd;  // in_kept, stages 1..7
    /* verilator lint_off UNUSEDSIGNAL */  // u * LOG2E_Q < 2**MW: the top bits of the signed product are 0
    logic signed [MW+1:0] um_s;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [MW-1:0]        um, t;
    logic [7:0]           r4;
    logic [MW-9:0]        n, n4;
    logic [4:0]           sh5, sh6;
    logic [16:0]          lut, lut5, lut6;

    always_ff @(posedge clk) if (ce) begin
        u1 <= in_kept ? UW'(UW'(in_max) - UW'(in_x)) : '0;
        kd <= {kd[5:0], in_kept};
    end
    mx_mul_pipe #(.A_W(UW + 1), .B_W(17), .P_W(MW + 2)) m_u (.clk, .ce, .a($signed({1'b0, u1})),
        .b($signed(17'(LOG2E_Q))), .p(um_s));
    assign um = MW'(unsigned'(um_s));
    assign t  = (um + (MW'(1) << (TS - 1))) >> TS;
    assign n  = t[MW-1:8];
    always_ff @(posedge clk) if (ce) begin
        r4  <= t[7:0];
        n4  <= n;
    end
    mx_exp2_rom rom (.in_addr(r4), .out_data(lut));
    always_ff @(posedge clk) if (ce) begin
        lut5  <= lut;
        sh5   <= (|n4[MW-9:5] || n4[4:0] > 5'd17) ? 5'd17 : n4[4:0];  // min(n, 17), a stage after t
        lut6  <= lut5;
        sh6   <= sh5;
        out_e <= kd[6] ? (lut6 >> sh6) : 17'd0;
    end
endmodule
