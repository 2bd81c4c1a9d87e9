// Testbench of the stream primitives: source -> skid -> fifo -> fork(2) -> {fifo(2), fifo(4)} -> join
// -> sink. Every output beat is {x, x} for input beat x.
module tb_stream #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 4
) (
    input logic clk
);
    logic rst, src_done, snk_done;
    int s0, s1, k0, k1;
    logic [WIDTH-1:0] a_data, b_data, c_data, e_data, f_data;
    logic a_valid, a_ready, b_valid, b_ready, c_valid, c_ready;
    logic [2*WIDTH-1:0] d_data, g_data;
    logic [1:0] d_valid, d_ready, g_valid, g_ready;
    logic e_valid, e_ready, f_valid, f_ready;
    logic [2*WIDTH-1:0] o_data;
    logic o_valid, o_ready;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(WIDTH), .NAME("in")) src (.clk, .rst, .out_data(a_data), .out_valid(a_valid),
        .out_ready(a_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_skid_buffer #(.WIDTH(WIDTH)) skid (.clk, .rst, .in_data(a_data), .in_valid(a_valid),
        .in_ready(a_ready), .out_data(b_data), .out_valid(b_valid), .out_ready(b_ready));
    mx_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) fifo (.clk, .rst, .in_data(b_data), .in_valid(b_valid),
        .in_ready(b_ready), .out_data(c_data), .out_valid(c_valid), .out_ready(c_ready));
    mx_fork #(.WIDTH(WIDTH), .N(2)) fork_i (.clk, .rst, .in_data(c_data), .in_valid(c_valid),
        .in_ready(c_ready), .out_data(d_data), .out_valid(d_valid), .out_ready(d_ready));
    mx_fifo #(.WIDTH(WIDTH), .DEPTH(2)) fifo2 (.clk, .rst, .in_data(d_data[0 +: WIDTH]),
        .in_valid(d_valid[0]), .in_ready(d_ready[0]), .out_data(e_data), .out_valid(e_valid),
        .out_ready(e_ready));
    mx_fifo #(.WIDTH(WIDTH), .DEPTH(4)) fifo3 (.clk, .rst, .in_data(d_data[WIDTH +: WIDTH]),
        .in_valid(d_valid[1]), .in_ready(d_ready[1]), .out_data(f_data), .out_valid(f_valid),
        .out_ready(f_ready));
    assign g_data  = {f_data, e_data};
    assign g_valid = {f_valid, e_valid};
    assign {f_ready, e_ready} = g_ready;
    mx_join #(.WIDTH(WIDTH), .N(2)) join_i (.clk, .rst, .in_data(g_data), .in_valid(g_valid),
        .in_ready(g_ready), .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(2*WIDTH), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
