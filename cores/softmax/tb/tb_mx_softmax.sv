// Testbench of mx_softmax: rows from in.hex, probabilities to out.out (random stalls, back-pressure).
module tb_mx_softmax #(
    parameter int LANES   = 1,
    parameter int N       = 64,
    parameter int POS_W   = 16,
    parameter int IN_W    = 20,
    parameter int IN_F    = 10,
    parameter int OUT_F   = 16,
    parameter int R_F     = 20,
    parameter int LOG2E_Q = 23637,
    parameter int RECIP_BITS = 1
) (
    input logic clk
);
    logic rst, src_done, snk_done, i_valid, i_ready, o_valid, o_ready;
    logic [POS_W+LANES*IN_W-1:0] i_data;
    logic [LANES*(OUT_F+1)-1:0] o_data;
    int s0, s1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(POS_W+LANES*IN_W), .NAME("in")) src (.clk, .rst, .out_data(i_data),
        .out_valid(i_valid), .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_softmax #(.LANES(LANES), .N(N), .POS_W(POS_W), .IN_W(IN_W), .IN_F(IN_F), .OUT_F(OUT_F), .R_F(R_F),
        .LOG2E_Q(LOG2E_Q), .RECIP_BITS(RECIP_BITS)) dut (
        .clk, .rst, .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready),
        .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(LANES*(OUT_F+1)), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
