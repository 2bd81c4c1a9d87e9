// Testbench of mx_wstream_unpack: compact weight stream beats from in.hex, mx_linear weight words to
// out.out (random stalls / back-pressure from +stall / +bp).
module tb_mx_wstream_unpack #(
    parameter int OUT_PAR   = 1,
    parameter int IN_PAR    = 2,
    parameter int W_WIDTH   = 4,
    parameter int K         = 32,
    parameter int HAS_SCALE = 1,
    parameter int GROUPS    = 1,
    parameter int IN_BYTES  = 2
) (
    input logic clk
);
    localparam int OW = OUT_PAR * (8 + IN_PAR * W_WIDTH);

    logic rst, src_done, snk_done, i_valid, i_ready, o_valid, o_ready;
    logic [8*IN_BYTES-1:0] i_data;
    logic [OW-1:0] o_data;
    int s0, s1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(8*IN_BYTES), .NAME("in")) src (.clk, .rst, .out_data(i_data), .out_valid(i_valid),
        .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_wstream_unpack #(.OUT_PAR(OUT_PAR), .IN_PAR(IN_PAR), .W_WIDTH(W_WIDTH), .K(K), .HAS_SCALE(HAS_SCALE),
        .GROUPS(GROUPS), .IN_BYTES(IN_BYTES)) dut (.clk, .rst, .in_data(i_data), .in_valid(i_valid),
        .in_ready(i_ready), .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(OW), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
