// MX matrix product of two activations, C = A B^T (attention's Q K^T; for scores x V, stream V^T
// as B). A (ROWS x D) and B (N x D) are both blocked along the reduction dimension D.
//   a_data   = {scale[7:0], PAR_D x elements}: a row of A in D/PAR_D beats (K/PAR_D per block)
//   b_data   = {scale[7:0], PAR_D x elements}: the N rows of B, one after the other
//   out_data = {scale[7:0], PAR_N x elements}: rows of C, N/PAR_N beats per row, re-quantized in
//              blocks of K_OUT along N
// B is loaded into one of two on-chip RAM banks (N*D/PAR_D cycles) while ROWS rows of A stream
// through the other at N*D/(PAR_D*PAR_N) cycles per row. Accumulation and re-quantization
// follow mase/golden/CONTRACT.md exactly as mx_linear (this is mx_linear with W_SOURCE = 2).
// *_FIXED_SCALE >= 0: that operand / the output is fixed8 under a constant scale byte (as mx_linear).
module mx_matmul #(
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
    parameter int ACC_W   = 32,
    parameter int A_FIXED_SCALE = -1,
    parameter int B_FIXED_SCALE = -1,
    parameter int O_FIXED_SCALE = -1,
    parameter int SHORT   = 0   // 1: mx_linear's short output quantizer pipeline (mx_quantize SHORT)
) (
    input  logic                          clk,
    input  logic                          rst,
    input  logic [8+PAR_D*A_WIDTH-1:0]    a_data,
    input  logic                          a_valid,
    output logic                          a_ready,
    input  logic [8+PAR_D*B_WIDTH-1:0]    b_data,
    input  logic                          b_valid,
    output logic                          b_ready,
    output logic [8+PAR_N*O_WIDTH-1:0]    out_data,
    output logic                          out_valid,
    input  logic                          out_ready
);
    localparam int WBEAT = PAR_N * (8 + PAR_D * B_WIDTH);
    logic [WBEAT-1:0] w_data;
    assign w_data = WBEAT'(b_data);

    mx_linear #(.IN_FEATURES(D), .OUT_FEATURES(N), .K(K), .K_OUT(K_OUT), .IN_PAR(PAR_D), .OUT_PAR(PAR_N),
                .X_WIDTH(A_WIDTH), .X_EBITS(A_EBITS), .W_WIDTH(B_WIDTH), .W_EBITS(B_EBITS),
                .O_WIDTH(O_WIDTH), .O_EBITS(O_EBITS), .ACC_LSB(ACC_LSB), .ACC_W(ACC_W), .HAS_BIAS(0),
                .X_FIXED_SCALE(A_FIXED_SCALE), .W_FIXED_SCALE(B_FIXED_SCALE), .O_FIXED_SCALE(O_FIXED_SCALE),
                .W_SOURCE(2), .ROWS(ROWS), .SHORT(SHORT)) core (
        .clk, .rst, .in_data(a_data), .in_valid(a_valid), .in_ready(a_ready), .w_data, .w_valid(b_valid),
        .w_ready(b_ready), .out_data, .out_valid, .out_ready);
endmodule
