// Lint top of the testbench helpers: a source played into a sink under mx_tb_ctrl, so that
// `verilator --lint-only -Wall` sees every module of mase:mx:tb.
module mx_tb_lint (
    input  logic clk,
    output int   cycles
);
    logic rst, src_done, snk_done, valid, ready;
    logic [11:0] data;
    int s0, s1, k0, k1;
    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(12), .MAX_BEATS(16)) src (.clk, .rst, .out_data(data), .out_valid(valid),
        .out_ready(ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_tb_sink #(.WIDTH(12)) snk (.clk, .rst, .in_data(data), .in_valid(valid), .in_ready(ready),
        .done(snk_done), .first_cycle(k0), .last_cycle(k1));
    assign cycles = (s1 - s0) + (k1 - k0);
endmodule
