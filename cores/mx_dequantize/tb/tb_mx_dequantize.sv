// Testbench of mx_dequantize: MX beats from in.hex, fixed-point beats to out.out.
module tb_mx_dequantize #(
    parameter int PAR         = 4,
    parameter int K           = 32,
    parameter int WIDTH       = 4,
    parameter int EBITS       = 0,
    parameter int OUT_W       = 16,
    parameter int OUT_LSB     = -8,
    parameter int FIXED_SCALE = -1,
    parameter int SEG         = K,
    parameter int SEG_PAD     = K
) (
    input logic clk
);
    logic rst, src_done, snk_done, i_valid, i_ready, o_valid, o_ready;
    logic [8+PAR*WIDTH-1:0] i_data;
    logic [PAR*OUT_W-1:0] o_data;
    int s0, s1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(8+PAR*WIDTH), .NAME("in")) src (.clk, .rst, .out_data(i_data), .out_valid(i_valid),
        .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_dequantize #(.PAR(PAR), .K(K), .WIDTH(WIDTH), .EBITS(EBITS), .OUT_W(OUT_W), .OUT_LSB(OUT_LSB),
        .FIXED_SCALE(FIXED_SCALE), .SEG(SEG), .SEG_PAD(SEG_PAD)) dut (.clk, .rst, .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready),
        .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(PAR*OUT_W), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
