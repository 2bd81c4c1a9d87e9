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
    // the off-chip memory model: two DMA channels (a 12-bit and a 20-bit stream) on a 16-bit bus
    logic [1:0] req, grant, rvalid;
    logic [31:0] addr [2];
    logic [15:0] rdata;
    logic [11:0] wd0;
    logic [19:0] wd1;
    logic wv0, wv1, wdone0, wdone1;
    int d0, d1, e0, e1;
    // and a KV cache's write and read channels (mx_tb_kvwr / mx_tb_kvrd, a K cache of 12-bit beats)
    logic [2:0] req3, grant3, rvalid3;
    logic [31:0] addr3 [3];
    logic [0:0] wreq, wgrant;
    logic [31:0] waddr [1];
    logic [15:0] wdata [1];
    logic [1:0] wstrb [1];
    logic [11:0] kd, kq;
    logic kv, kr, qv;
    int committed;
    assign req3[1:0] = req;
    assign addr3[0] = addr[0];
    assign addr3[1] = addr[1];
    assign grant = grant3[1:0];
    assign rvalid = rvalid3[1:0];
    mx_tb_mem #(.PORTS(3), .WPORTS(1), .BUS_BITS(16), .WORDS(16), .LATENCY(3), .BW_MILLI(1500)) u_mem (.clk, .rst,
        .req(req3), .addr(addr3), .grant(grant3), .rvalid(rvalid3), .rdata, .wreq, .waddr, .wdata, .wstrb, .wgrant);
    mx_tb_kvwr #(.WIDTH(12), .BEAT_BITS(16), .BUS_BITS(16), .BASE(8), .BANK_STRIDE(4), .ROW_STRIDE(1), .MODE(0),
        .RUN_BEATS(1), .T(4)) kvw (.clk, .rst, .in_data(data), .in_valid(valid && ready), .in_ready(kr),
        .wreq(wreq[0]), .waddr(waddr[0]), .wdata(wdata[0]), .wstrb(wstrb[0]), .wgrant(wgrant[0]), .committed);
    mx_tb_kvrd #(.WIDTH(12), .BEAT_BITS(16), .BUS_BITS(16), .BASE(8), .BANK_STRIDE(4), .ROW_STRIDE(1), .MODE(0),
        .RUN_BEATS(1), .T(4)) kvr (.clk, .rst, .req(req3[2]), .addr(addr3[2]), .grant(grant3[2]),
        .rvalid(rvalid3[2]), .rdata, .out_data(kq), .out_valid(qv), .out_ready(1'b1), .committed);
    assign kd = kq;
    assign kv = qv && kr;
    mx_tb_dma #(.WIDTH(12), .BEAT_BITS(16), .BUS_BITS(16), .BASE(0), .WORDS(2), .BEATS(2), .NAME("w0")) dma0 (
        .clk, .rst, .req(req[0]), .addr(addr[0]), .grant(grant[0]), .rvalid(rvalid[0]), .rdata, .out_data(wd0),
        .out_valid(wv0), .out_ready(1'b1), .done(wdone0), .first_cycle(d0), .last_cycle(d1));
    mx_tb_dma #(.WIDTH(20), .BEAT_BITS(24), .BUS_BITS(16), .BASE(2), .WORDS(3), .BEATS(2), .NAME("w1")) dma1 (
        .clk, .rst, .req(req[1]), .addr(addr[1]), .grant(grant[1]), .rvalid(rvalid[1]), .rdata, .out_data(wd1),
        .out_valid(wv1), .out_ready(1'b1), .done(wdone1), .first_cycle(e0), .last_cycle(e1));
    assign cycles  = (s1 - s0) + (k1 - k0) + (t1 - t0) + (c1 - c0) + (d1 - d0) + (e1 - e0)
                     + int'(wdone0 && wdone1 && ^{wd0, wd1, wv0, wv1, kd, kv});
    assign checked = beats - errors;
endmodule
