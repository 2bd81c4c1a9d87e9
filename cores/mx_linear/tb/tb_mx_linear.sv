// Testbench of mx_linear: input vectors from in.hex (and streamed weights from w.hex when
// W_SOURCE = 1), output beats to out.out.
module tb_mx_linear #(
    parameter int    IN_FEATURES   = 64,
    parameter int    OUT_FEATURES  = 32,
    parameter int    K             = 32,
    parameter int    K_OUT         = 32,
    parameter int    IN_PAR        = 4,
    parameter int    OUT_PAR       = 4,
    parameter int    X_WIDTH       = 4,
    parameter int    X_EBITS       = 0,
    parameter int    X_FIXED_SCALE = -1,
    parameter int    W_WIDTH       = 4,
    parameter int    W_EBITS       = 0,
    parameter int    W_FIXED_SCALE = -1,
    parameter int    O_WIDTH       = 4,
    parameter int    O_EBITS       = 0,
    parameter int    O_FIXED_SCALE = -1,
    parameter int    ACC_LSB       = -20,
    parameter int    ACC_W         = 32,
    parameter int    HAS_BIAS      = 1,
    parameter int    B_BANKS       = 1,
    parameter int    B_VECTORS     = 1,
    parameter int    W_SOURCE      = 0,
    parameter int    ROWS          = 1,
    parameter int    SHARE         = 1,
    parameter int    DSP_PACK      = -1,
    parameter int    SHORT         = 0,
    parameter string W_FILE        = "weights.hex",
    parameter string S_FILE        = "scales.hex",
    parameter string B_FILE        = "bias.hex"
) (
    input logic clk
);
    localparam int IW = 8 + IN_PAR * X_WIDTH;
    localparam int WW = OUT_PAR * (8 + IN_PAR * W_WIDTH);
    localparam int OW = 8 + OUT_PAR * O_WIDTH;

    logic rst, src_done, wsrc_done, snk_done, i_valid, i_ready, w_valid, w_ready, o_valid, o_ready;
    logic [IW-1:0] i_data;
    logic [WW-1:0] w_data;
    logic [OW-1:0] o_data;
    int s0, s1, w0, w1, k0, k1;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && wsrc_done && snk_done));
    mx_tb_source #(.WIDTH(IW), .NAME("in")) src (.clk, .rst, .out_data(i_data), .out_valid(i_valid),
        .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_tb_source #(.WIDTH(WW), .NAME("w"), .SALT(11)) wsrc (.clk, .rst, .out_data(w_data), .out_valid(w_valid),
        .out_ready(w_ready), .done(wsrc_done), .first_cycle(w0), .last_cycle(w1));
    mx_linear #(.IN_FEATURES(IN_FEATURES), .OUT_FEATURES(OUT_FEATURES), .K(K), .K_OUT(K_OUT),
        .IN_PAR(IN_PAR), .OUT_PAR(OUT_PAR), .X_WIDTH(X_WIDTH), .X_EBITS(X_EBITS),
        .X_FIXED_SCALE(X_FIXED_SCALE), .W_WIDTH(W_WIDTH), .W_EBITS(W_EBITS),
        .W_FIXED_SCALE(W_FIXED_SCALE), .O_WIDTH(O_WIDTH), .O_EBITS(O_EBITS),
        .O_FIXED_SCALE(O_FIXED_SCALE), .ACC_LSB(ACC_LSB), .ACC_W(ACC_W), .HAS_BIAS(HAS_BIAS),
        .B_BANKS(B_BANKS), .B_VECTORS(B_VECTORS), .W_SOURCE(W_SOURCE), .ROWS(ROWS), .SHARE(SHARE), .DSP_PACK(DSP_PACK), .SHORT(SHORT), .W_FILE(W_FILE), .S_FILE(S_FILE), .B_FILE(B_FILE)) dut (
        .clk, .rst, .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready), .w_data, .w_valid,
        .w_ready, .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    mx_tb_sink #(.WIDTH(OW), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d w_first=%0d w_last=%0d out_first=%0d out_last=%0d",
                   s0, s1, w0, w1, k0, k1);
endmodule
