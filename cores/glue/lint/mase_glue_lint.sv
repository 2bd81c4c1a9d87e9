// Lint top of the glue modules: one instance of each with its default parameters, every port on
// the top, so that `verilator --lint-only -Wall` sees them all.
module mase_glue_lint (
    input  logic clk,
    input  logic rst,
    input  logic [11:0] wc_in_data,
    input  logic wc_in_valid,
    output logic wc_in_ready,
    output logic [15:0] wc_out_data,
    output logic wc_out_valid,
    input  logic wc_out_ready,
    output logic [15:0] rom_out_data,
    output logic rom_out_valid,
    input  logic rom_out_ready,
    input  logic [19:0] pos_in_data,
    input  logic pos_in_valid,
    output logic pos_in_ready,
    output logic [35:0] pos_out_data,
    output logic pos_out_valid,
    input  logic pos_out_ready,
    input  logic [15:0] rp_in_data,
    input  logic rp_in_valid,
    output logic rp_in_ready,
    output logic [47:0] rp_out_data,
    output logic rp_out_valid,
    input  logic rp_out_ready,
    input  logic [31:0] ru_in_data,
    input  logic ru_in_valid,
    output logic ru_in_ready,
    output logic [15:0] ru_out_data,
    output logic ru_out_valid,
    input  logic ru_out_ready,
    input  logic [15:0] pad_in_data,
    input  logic pad_in_valid,
    output logic pad_in_ready,
    output logic [15:0] pad_out_data,
    output logic pad_out_valid,
    input  logic pad_out_ready,
    input  logic [15:0] tp_in_data,
    input  logic tp_in_valid,
    output logic tp_in_ready,
    output logic [15:0] tp_out_data,
    output logic tp_out_valid,
    input  logic tp_out_ready,
    input  logic [11:0] am_a_data,
    input  logic am_a_valid,
    output logic am_a_ready,
    input  logic [11:0] am_b_data,
    input  logic am_b_valid,
    output logic am_b_ready,
    output logic [15:0] am_out_data,
    output logic am_out_valid,
    input  logic am_out_ready
);
    mase_width_conv u_wc (.clk, .rst, .in_data(wc_in_data), .in_valid(wc_in_valid), .in_ready(wc_in_ready), .out_data(wc_out_data), .out_valid(wc_out_valid), .out_ready(wc_out_ready));
    mase_param_rom u_rom (.clk, .rst, .out_data(rom_out_data), .out_valid(rom_out_valid), .out_ready(rom_out_ready));
    mase_pos_tag u_pos (.clk, .rst, .in_data(pos_in_data), .in_valid(pos_in_valid), .in_ready(pos_in_ready), .out_data(pos_out_data), .out_valid(pos_out_valid), .out_ready(pos_out_ready));
    mase_rope_pack u_rp (.clk, .rst, .in_data(rp_in_data), .in_valid(rp_in_valid), .in_ready(rp_in_ready), .out_data(rp_out_data), .out_valid(rp_out_valid), .out_ready(rp_out_ready));
    mase_rope_unpack u_ru (.clk, .rst, .in_data(ru_in_data), .in_valid(ru_in_valid), .in_ready(ru_in_ready), .out_data(ru_out_data), .out_valid(ru_out_valid), .out_ready(ru_out_ready));
    mase_pad u_pad (.clk, .rst, .in_data(pad_in_data), .in_valid(pad_in_valid), .in_ready(pad_in_ready), .out_data(pad_out_data), .out_valid(pad_out_valid), .out_ready(pad_out_ready));
    mase_transpose_pad u_tp (.clk, .rst, .in_data(tp_in_data), .in_valid(tp_in_valid), .in_ready(tp_in_ready), .out_data(tp_out_data), .out_valid(tp_out_valid), .out_ready(tp_out_ready));
    mase_attn_matmul u_am (.clk, .rst, .a_data(am_a_data), .a_valid(am_a_valid), .a_ready(am_a_ready), .b_data(am_b_data), .b_valid(am_b_valid), .b_ready(am_b_ready), .out_data(am_out_data), .out_valid(am_out_valid), .out_ready(am_out_ready));
endmodule
