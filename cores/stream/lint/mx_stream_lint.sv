// Lint top of the stream primitives: one instance of each, so `verilator --lint-only -Wall` sees
// them all.
module mx_stream_lint (
    input  logic        clk,
    input  logic        rst,
    input  logic [7:0]  in_data,
    input  logic        in_valid,
    output logic        in_ready,
    output logic [15:0] out_data,
    output logic        out_valid,
    input  logic        out_ready
);
    logic [7:0]  b_data, c_data, e_data, f_data;
    logic        b_valid, b_ready, c_valid, c_ready, e_valid, e_ready, f_valid, f_ready;
    logic [15:0] d_data;
    logic [1:0]  d_valid, d_ready, g_ready;

    mx_skid_buffer #(.WIDTH(8)) skid (.clk, .rst, .in_data, .in_valid, .in_ready,
        .out_data(b_data), .out_valid(b_valid), .out_ready(b_ready));
    mx_fifo #(.WIDTH(8), .DEPTH(16)) fifo (.clk, .rst, .in_data(b_data), .in_valid(b_valid),
        .in_ready(b_ready), .out_data(c_data), .out_valid(c_valid), .out_ready(c_ready));
    mx_fork #(.WIDTH(8), .N(2)) fork_i (.clk, .rst, .in_data(c_data), .in_valid(c_valid),
        .in_ready(c_ready), .out_data(d_data), .out_valid(d_valid), .out_ready(d_ready));
    mx_skid_buffer #(.WIDTH(8)) skid0 (.clk, .rst, .in_data(d_data[7:0]), .in_valid(d_valid[0]),
        .in_ready(d_ready[0]), .out_data(e_data), .out_valid(e_valid), .out_ready(e_ready));
    mx_skid_buffer #(.WIDTH(8)) skid1 (.clk, .rst, .in_data(d_data[15:8]), .in_valid(d_valid[1]),
        .in_ready(d_ready[1]), .out_data(f_data), .out_valid(f_valid), .out_ready(f_ready));
    mx_join #(.WIDTH(8), .N(2)) join_i (.clk, .rst, .in_data({f_data, e_data}),
        .in_valid({f_valid, e_valid}), .in_ready(g_ready), .out_data, .out_valid, .out_ready);
    assign {f_ready, e_ready} = g_ready;
endmodule
