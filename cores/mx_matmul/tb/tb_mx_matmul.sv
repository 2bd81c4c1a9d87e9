// Testbench of mx_matmul: rows of A from a.hex, rows of B from b.hex, rows of C to out.out.
module tb_mx_matmul #(
    parameter int ROWS    = 8,
    parameter int N       = 16,
    parameter int D       = 64,
    parameter int K       = 32,
    parameter int K_OUT   = 16,
    parameter int PAR_D   = 4,
    parameter int PAR_N   = 4,
    parameter int A_WIDTH = 4,
    parameter int A_EBITS = 0,
    parameter int B_WIDTH = 4,
    parameter int B_EBITS = 0,
    parameter int O_WIDTH = 4,
    parameter int O_EBITS = 0,
    parameter int ACC_LSB = -20,
    parameter int ACC_W   = 32
) (
    input logic clk
);
    localparam int AW = 8 + PAR_D * A_WIDTH;
    localparam int BW = 8 + PAR_D * B_WIDTH;
    localparam int OW = 8 + PAR_N * O_WIDTH;
    logic rst, a_done, b_done, snk_done, a_valid, a_ready, b_valid, b_ready, o_valid, o_ready;
    logic [AW-1:0] a_data;
    logic [BW-1:0] b_data;
    logic [OW-1:0] o_data;
    int a0, a1, b0, b1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(a_done && b_done && snk_done));
    mx_tb_source #(.WIDTH(AW), .NAME("a")) asrc (.clk, .rst, .out_data(a_data), .out_valid(a_valid),
        .out_ready(a_ready), .done(a_done), .first_cycle(a0), .last_cycle(a1));
    mx_tb_source #(.WIDTH(BW), .NAME("b"), .SALT(5)) bsrc (.clk, .rst, .out_data(b_data), .out_valid(b_valid),
        .out_ready(b_ready), .done(b_done), .first_cycle(b0), .last_cycle(b1));
    mx_matmul #(.ROWS(ROWS), .N(N), .D(D), .K(K), .K_OUT(K_OUT), .PAR_D(PAR_D), .PAR_N(PAR_N),
        .A_WIDTH(A_WIDTH), .A_EBITS(A_EBITS), .B_WIDTH(B_WIDTH), .B_EBITS(B_EBITS), .O_WIDTH(O_WIDTH),
        .O_EBITS(O_EBITS), .ACC_LSB(ACC_LSB), .ACC_W(ACC_W)) dut (.clk, .rst, .a_data, .a_valid, .a_ready,
        .b_data, .b_valid, .b_ready, .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(OW), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS a_first=%0d a_last=%0d b_first=%0d b_last=%0d out_first=%0d out_last=%0d",
                   a0, a1, b0, b1, k0, k1);
endmodule
