// Testbench of mx_residual_add: beats of a.hex and b.hex joined, results to out.out (random stalls, back-pressure).
module tb_mx_residual_add #(
    parameter int LANES = 1,
    parameter int A_W   = 20,
    parameter int A_F   = 12,
    parameter int B_W   = 20,
    parameter int B_F   = 12,
    parameter int OUT_W = 24,
    parameter int OUT_F = 10
) (
    input logic clk
);
    logic rst, a_done, b_done, snk_done, a_valid, a_ready, b_valid, b_ready, o_valid, o_ready;
    logic [LANES*A_W-1:0] a_data;
    logic [LANES*B_W-1:0] b_data;
    logic [LANES*OUT_W-1:0] o_data;
    int s0, s1, t0, t1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(a_done && b_done && snk_done));
    mx_tb_source #(.WIDTH(LANES*A_W), .NAME("a"), .SALT(3)) src_a (.clk, .rst, .out_data(a_data),
        .out_valid(a_valid), .out_ready(a_ready), .done(a_done), .first_cycle(s0), .last_cycle(s1));
    mx_tb_source #(.WIDTH(LANES*B_W), .NAME("b"), .SALT(5)) src_b (.clk, .rst, .out_data(b_data),
        .out_valid(b_valid), .out_ready(b_ready), .done(b_done), .first_cycle(t0), .last_cycle(t1));
    mx_residual_add #(.LANES(LANES), .A_W(A_W), .A_F(A_F), .B_W(B_W), .B_F(B_F), .OUT_W(OUT_W), .OUT_F(OUT_F)) dut (
        .clk, .rst, .a_data, .a_valid, .a_ready, .b_data, .b_valid, .b_ready,
        .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(LANES*OUT_W), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d b_first=%0d b_last=%0d out_first=%0d out_last=%0d",
                   s0, s1, t0, t1, k0, k1);
endmodule
