// Testbench of mx_rmsnorm: rows from in.hex, scale/bias beats from w.hex, results to out.out.
module tb_mx_rmsnorm #(
    parameter int LANES    = 1,
    parameter int N        = 576,
    parameter int IN_W     = 32,
    parameter int G_W      = 16,
    parameter int G_F      = 14,
    parameter int OUT_W    = 24,
    parameter int OUT_F    = 16,
    parameter int EPS_CODE = 1,
    parameter int P        = 16,
    parameter int M        = 16,
    parameter int K        = 24,
    parameter int T_F      = 16
) (
    input logic clk
);
    localparam int WW = LANES * G_W;
    logic rst, i_done, w_done, snk_done, i_valid, i_ready, w_valid, w_ready, o_valid, o_ready;
    logic [LANES*IN_W-1:0] i_data;
    logic [WW-1:0] w_data;
    logic [LANES*OUT_W-1:0] o_data;
    int s0, s1, t0, t1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(i_done && w_done && snk_done));
    mx_tb_source #(.WIDTH(LANES*IN_W), .NAME("in"), .SALT(3)) src_i (.clk, .rst, .out_data(i_data),
        .out_valid(i_valid), .out_ready(i_ready), .done(i_done), .first_cycle(s0), .last_cycle(s1));
    mx_tb_source #(.WIDTH(WW), .NAME("w"), .SALT(5)) src_w (.clk, .rst, .out_data(w_data),
        .out_valid(w_valid), .out_ready(w_ready), .done(w_done), .first_cycle(t0), .last_cycle(t1));
    mx_rmsnorm #(.LANES(LANES), .N(N), .IN_W(IN_W), .G_W(G_W), .G_F(G_F), .OUT_W(OUT_W), .OUT_F(OUT_F),
        .EPS_CODE(EPS_CODE), .P(P), .M(M), .K(K), .T_F(T_F)) dut (
        .clk, .rst, .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready), .w_data, .w_valid, .w_ready,
        .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(LANES*OUT_W), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d w_first=%0d w_last=%0d out_first=%0d out_last=%0d",
                   s0, s1, t0, t1, k0, k1);
endmodule
