// Testbench of mx_dot_product: stimulus beats from in.hex, one output beat per block to out.out.
module tb_mx_dot_product #(
    parameter int PAR     = 4,
    parameter int K       = 32,
    parameter int A_WIDTH = 4,
    parameter int A_EBITS = 0,
    parameter int B_WIDTH = 4,
    parameter int B_EBITS = 0
) (
    input logic clk
);
    localparam int A_IW  = (A_EBITS == 0) ? A_WIDTH : A_WIDTH - A_EBITS + (1 << A_EBITS) - 1;
    localparam int B_IW  = (B_EBITS == 0) ? B_WIDTH : B_WIDTH - B_EBITS + (1 << B_EBITS) - 1;
    localparam int SUM_W = A_IW + B_IW + $clog2(K);
    localparam int IN_W  = PAR * (A_WIDTH + B_WIDTH) + 16;
    localparam int OUT_W = SUM_W + 9;

    logic rst, src_done, snk_done, i_valid, i_ready, o_valid, o_ready;
    logic [IN_W-1:0] i_data;
    logic [OUT_W-1:0] o_data;
    int s0, s1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(IN_W), .NAME("in")) src (.clk, .rst, .out_data(i_data), .out_valid(i_valid),
        .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_dot_product #(.PAR(PAR), .K(K), .A_WIDTH(A_WIDTH), .A_EBITS(A_EBITS), .B_WIDTH(B_WIDTH),
        .B_EBITS(B_EBITS)) dut (.clk, .rst, .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready),
        .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(OUT_W), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
