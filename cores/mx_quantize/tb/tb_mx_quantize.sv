// Testbench of mx_quantize: fixed-point beats from in.hex, MX beats to out.out.
module tb_mx_quantize #(
    parameter int PAR         = 4,
    parameter int K           = 32,
    parameter int IN_W        = 32,
    parameter int IN_LSB      = -20,
    parameter int WIDTH       = 4,
    parameter int EBITS       = 0,
    parameter int FIXED_SCALE = -1,
    parameter int SHORT       = 0
) (
    input logic clk
);
    logic rst, src_done, snk_done, i_valid, i_ready, o_valid, o_ready;
    logic [PAR*IN_W-1:0] i_data;
    logic [8+PAR*WIDTH-1:0] o_data;
    int s0, s1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(PAR*IN_W), .NAME("in")) src (.clk, .rst, .out_data(i_data), .out_valid(i_valid),
        .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_quantize #(.PAR(PAR), .K(K), .IN_W(IN_W), .IN_LSB(IN_LSB), .WIDTH(WIDTH), .EBITS(EBITS),
        .FIXED_SCALE(FIXED_SCALE), .SHORT(SHORT)) dut (.clk, .rst, .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready),
        .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(8+PAR*WIDTH), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
