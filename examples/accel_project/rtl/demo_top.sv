// The demo project's top level: the generated accelerator accel_a (ports named after the model's
// streams: i_embed in, o_final_norm out) with an output FIFO from the mase:mx library (mx_fifo).
module demo_top (
    input  logic        clk,
    input  logic        rst,
    input  logic [31:0] in_data,    // token embeddings, one MXINT4 block element (+ scale) per beat
    input  logic        in_valid,
    output logic        in_ready,
    output logic [23:0] out_data,   // final norm output, fixed point, one element per beat
    output logic        out_valid,
    input  logic        out_ready
);
    logic [23:0] acc_data;
    logic        acc_valid, acc_ready;

    accel_a u_accel (
        .clk,
        .rst,
        .i_embed_data      (in_data),
        .i_embed_valid     (in_valid),
        .i_embed_ready     (in_ready),
        .o_final_norm_data (acc_data),
        .o_final_norm_valid(acc_valid),
        .o_final_norm_ready(acc_ready)
    );

    mx_fifo #(
        .WIDTH(24),
        .DEPTH(16)
    ) u_out_fifo (
        .clk,
        .rst,
        .in_data  (acc_data),
        .in_valid (acc_valid),
        .in_ready (acc_ready),
        .out_data,
        .out_valid,
        .out_ready
    );
endmodule
