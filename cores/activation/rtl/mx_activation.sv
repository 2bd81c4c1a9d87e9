// Elementwise activation of LANES signed fixed-point lanes (mase.golden.nonlinear.act_int):
//   FUNC 0 ReLU: y = sat(round(max(x, 0) * 2**(OUT_F - IN_F)))
//   FUNC 1 GELU, 2 SiLU: y = sat(round(x * gate(x) * 2**(OUT_F - IN_F - 16))), gate from mx_gate_interp
//   in_data = LANES x IN_W (lane 0 in the low bits), out_data = LANES x OUT_W
// Latency 2 cycles, one beat per cycle; in_ready = !out_valid || out_ready.
module mx_activation #(
    parameter int LANES = 1,
    parameter int FUNC  = 2,
    parameter int IN_W  = 20,
    parameter int IN_F  = 12,
    parameter int OUT_W = 20,
    parameter int OUT_F = 12
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [LANES*IN_W-1:0]  in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    output logic [LANES*OUT_W-1:0] out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    logic ce, v1;
    assign ce       = !out_valid || out_ready;
    assign in_ready = ce;

    always_ff @(posedge clk) begin
        if (rst) begin
            v1        <= 1'b0;
            out_valid <= 1'b0;
        end else if (ce) begin
            v1        <= in_valid;
            out_valid <= v1;
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [IN_W-1:0]  x, x1;
            logic signed [OUT_W-1:0] y;
            assign x = $signed(in_data[l*IN_W +: IN_W]);
            if (FUNC == 0) begin : g_relu
                logic signed [IN_W-1:0] r;
                assign r = x1[IN_W-1] ? '0 : x1;
                mx_round_sat #(.IN_W(IN_W), .SHIFT(IN_F - OUT_F), .OUT_W(OUT_W)) rs (.in_data(r), .out_data(y));
                always_ff @(posedge clk) if (ce) x1 <= x;
            end else begin : g_gate
                logic [16:0]               g, g1;
                logic signed [IN_W+17:0]   p;
                mx_gate_interp #(.FUNC(FUNC), .IN_W(IN_W), .IN_F(IN_F)) gi (.in_data(x), .out_data(g));
                always_ff @(posedge clk) if (ce) begin
                    x1 <= x;
                    g1 <= g;
                end
                assign p = (IN_W + 18)'(x1) * $signed({1'b0, g1});
                mx_round_sat #(.IN_W(IN_W + 18), .SHIFT(IN_F + 16 - OUT_F), .OUT_W(OUT_W)) rs (.in_data(p), .out_data(y));
            end
            always_ff @(posedge clk) if (ce) out_data[l*OUT_W +: OUT_W] <= y;
        end
    endgenerate
endmodule
