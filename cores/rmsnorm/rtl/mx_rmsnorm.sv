// rmsnorm: y = x / sqrt(mean(x^2) + eps) * g over rows of N elements, LANES per beat, bit-exact with
// mase.golden.nonlinear.norm_int (sub_mean=0); the engine is mx_norm (see its header and README.md).
//   in_data = LANES x IN_W, w_data = LANES x G_W scale (one w beat per output beat),
//   out_data = LANES x OUT_W. EPS_CODE = mase.golden.nonlinear.norm_eps_code(N, eps, IN_F, P).
module mx_rmsnorm #(
    parameter int LANES    = 1,
    parameter int N        = 576,
    parameter int IN_W     = 32,
    parameter int G_W      = 16,
    parameter int G_F      = 14,
    parameter int OUT_W    = 24,
    parameter int OUT_F    = 16,
    parameter int EPS_CODE = 1,
    parameter int P        = 16,
    parameter int M        = 16,
    parameter int K        = 24,
    parameter int T_F      = 16
) (
    input  logic                        clk,
    input  logic                        rst,
    input  logic [LANES*IN_W-1:0]       in_data,
    input  logic                        in_valid,
    output logic                        in_ready,
    input  logic [LANES * G_W-1:0] w_data,
    input  logic                        w_valid,
    output logic                        w_ready,
    output logic [LANES*OUT_W-1:0]      out_data,
    output logic                        out_valid,
    input  logic                        out_ready
);
    mx_norm #(.SUB_MEAN(0), .LANES(LANES), .N(N), .IN_W(IN_W), .G_W(G_W), .G_F(G_F), .OUT_W(OUT_W),
              .OUT_F(OUT_F), .EPS_CODE(EPS_CODE), .P(P), .M(M), .K(K), .T_F(T_F)) engine (
        .clk, .rst, .in_data, .in_valid, .in_ready, .w_data, .w_valid, .w_ready, .out_data, .out_valid,
        .out_ready);
endmodule
