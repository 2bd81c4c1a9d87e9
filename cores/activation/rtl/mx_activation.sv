// Elementwise activation of LANES signed fixed-point lanes (mase.golden.nonlinear.act_int):
//   FUNC 0 ReLU: y = sat(round(max(x, 0) * 2**(OUT_F - IN_F)))
//   FUNC 1 GELU, 2 SiLU: y = sat(round(x * gate(x) * 2**(OUT_F - IN_F - 16))), gate from mx_gate_interp
//   in_data = LANES x IN_W (lane 0 in the low bits), out_data = LANES x OUT_W
// Pipelined, every register enabled by ce = !out_valid || out_ready (= in_ready); one beat per cycle.
// Latency: ReLU 2 cycles; GELU/SiLU 10 (gate 6 | x * gate, mx_mul_pipe 3 | round and saturate 1).
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
    localparam int LAT = (FUNC == 0) ? 2 : 6 + 3 + 1;  // gate, mx_mul_pipe, round

    logic           ce;
    logic [LAT-2:0] vs;
    assign ce       = !out_valid || out_ready;
    assign in_ready = ce;

    always_ff @(posedge clk) begin
        if (rst) begin
            vs        <= '0;
            out_valid <= 1'b0;
        end else if (ce) begin
            vs        <= (LAT - 1)'({vs, in_valid});
            out_valid <= vs[LAT-2];
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [IN_W-1:0]  x;
            logic signed [OUT_W-1:0] y;
            assign x = $signed(in_data[l*IN_W +: IN_W]);
            if (FUNC == 0) begin : g_relu
                logic signed [IN_W-1:0] x1, r;
                assign r = x1[IN_W-1] ? '0 : x1;
                mx_round_sat #(.IN_W(IN_W), .SHIFT(IN_F - OUT_F), .OUT_W(OUT_W)) rs (.in_data(r), .out_data(y));
                always_ff @(posedge clk) if (ce) x1 <= x;
            end else begin : g_gate
                logic signed [IN_W-1:0]  xd [6];
                logic        [16:0]      g;
                logic signed [IN_W+17:0] p;
                mx_gate_interp #(.FUNC(FUNC), .IN_W(IN_W), .IN_F(IN_F)) gi (.clk, .ce, .in_data(x), .out_data(g));
                always_ff @(posedge clk) if (ce) begin
                    xd[0] <= x;
                    for (int i = 1; i < 6; i++) xd[i] <= xd[i-1];
                end
                mx_mul_pipe #(.A_W(IN_W), .B_W(18)) m (.clk, .ce, .a(xd[5]), .b($signed({1'b0, g})), .p(p));
                mx_round_sat #(.IN_W(IN_W + 18), .SHIFT(IN_F + 16 - OUT_F), .OUT_W(OUT_W)) rs (.in_data(p), .out_data(y));
            end
            always_ff @(posedge clk) if (ce) out_data[l*OUT_W +: OUT_W] <= y;
        end
    endgenerate
endmodule
