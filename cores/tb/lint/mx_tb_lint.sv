// Lint top of the testbench helpers: a source played into a sink and another, through a gate, into a checking sink
// under mx_tb_ctrl, so that `verilator --lint-only -Wall` sees every module of mase:mx:tb.
module mx_tb_lint (
    input  logic clk,
    output int   cycles,
    output int   checked
);
    logic rst, src_done, snk_done, valid, ready, src2_done, chk_done, valid2, ready2, valid3, ready3;
    logic [11:0] data;
    logic [4:0] data2, data3;
    int s0, s1, k0, k1, t0, t1, c0, c1, beats, errors;
    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done && src2_done && chk_done));
    mx_tb_source #(.WIDTH(12), .MAX_BEATS(16)) src (.clk, .rst, .out_data(data), .out_valid(valid),
        .out_ready(ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_tb_sink #(.WIDTH(12)) snk (.clk, .rst, .in_data(data), .in_valid(valid), .in_ready(ready),
        .done(snk_done), .first_cycle(k0), .last_cycle(k1));
    mx_tb_source #(.WIDTH(5), .MAX_BEATS(4), .NAME("in2")) src2 (.clk, .rst, .out_data(data2),
        .out_valid(valid2), .out_ready(ready2), .done(src2_done), .first_cycle(t0), .last_cycle(t1));
    mx_tb_gate #(.WIDTH(5), .IN_BEATS(2), .OUT_BEATS(2)) gate (.clk, .rst, .in_data(data2), .in_valid(valid2),
        .in_ready(ready2), .out_data(data3), .out_valid(valid3), .out_ready(ready3), .obs_fire(valid3 && ready3));
    mx_tb_check #(.WIDTH(5), .NAME("out2"), .BEATS(4)) chk (.clk, .rst, .in_data(data3), .in_valid(valid3),
        .in_ready(ready3), .done(chk_done), .first_cycle(c0), .last_cycle(c1), .beats, .errors);
    assign cycles  = (s1 - s0) + (k1 - k0) + (t1 - t0) + (c1 - c0);
    assign checked = beats - errors;
endmodule
