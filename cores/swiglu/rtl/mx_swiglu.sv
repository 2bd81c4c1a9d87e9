// SwiGLU gate of LANES lanes: y = sat(round(a * sigmoid(a) * b * 2**(OUT_F - A_F - 16 - B_F))), one
// rounding (mase.golden.nonlinear.swiglu_int); sigmoid from mx_gate_interp (table + interpolation).
//   a_data = LANES x A_W (gate projection), b_data = LANES x B_W (up projection), joined per beat;
//   out_data = LANES x OUT_W. Pipelined (every register enabled by ce = !out_valid || out_ready):
//   gate (mx_gate_interp, 6 cycles) | a * g (mx_mul_pipe, 3) | (a g) * b (mx_mul_pipe, 3) | round | saturate:
//   latency 14 cycles, one beat per cycle.
module mx_swiglu #(
    parameter int LANES = 1,
    parameter int A_W   = 20,
    parameter int A_F   = 12,
    parameter int B_W   = 20,
    parameter int B_F   = 12,
    parameter int OUT_W = 24,
    parameter int OUT_F = 10
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [LANES*A_W-1:0]   a_data,
    input  logic                   a_valid,
    output logic                   a_ready,
    input  logic [LANES*B_W-1:0]   b_data,
    input  logic                   b_valid,
    output logic                   b_ready,
    output logic [LANES*OUT_W-1:0] out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    localparam int PW  = A_W + 18 + B_W;
    localparam int GL  = 6;           // mx_gate_interp
    localparam int ML  = 3;           // mx_mul_pipe a * g
    localparam int MP  = 5;           // mx_mul_pipe (a g) * b: the wide sum in three stages (LUT multipliers)
    localparam int LAT = GL + ML + MP + 2;  // + mx_round_sat_pipe

    logic           ce;
    logic [LAT-2:0] vs;
    assign ce      = !out_valid || out_ready;
    assign a_ready = ce && b_valid;
    assign b_ready = ce && a_valid;

    always_ff @(posedge clk) begin
        if (rst) begin
            vs        <= '0;
            out_valid <= 1'b0;
        end else if (ce) begin
            vs        <= {vs[LAT-3:0], a_valid && b_valid};
            out_valid <= vs[LAT-2];
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [A_W-1:0]    a, ad [GL];
            logic signed [B_W-1:0]    b, bd [GL + ML];
            logic        [16:0]       g;
            logic signed [A_W+18-1:0] ag;
            logic signed [PW-1:0]     p;
            logic signed [OUT_W-1:0]  y;
            assign a = $signed(a_data[l*A_W +: A_W]);
            assign b = $signed(b_data[l*B_W +: B_W]);
            mx_gate_interp #(.FUNC(2), .IN_W(A_W), .IN_F(A_F)) gi (.clk, .ce, .in_data(a), .out_data(g));
            always_ff @(posedge clk) if (ce) begin
                ad[0] <= a;
                bd[0] <= b;
                for (int i = 1; i < GL; i++) ad[i] <= ad[i-1];
                for (int i = 1; i < GL + ML; i++) bd[i] <= bd[i-1];
            end
            mx_mul_pipe #(.A_W(A_W), .B_W(18)) m_ag (.clk, .ce, .a(ad[GL-1]), .b($signed({1'b0, g})), .p(ag));
            mx_mul_pipe #(.A_W(A_W + 18), .B_W(B_W), .LAT(MP)) m_p (.clk, .ce, .a(ag), .b(bd[GL+ML-1]), .p(p));
            mx_round_sat_pipe #(.IN_W(PW), .SHIFT(A_F + 16 + B_F - OUT_F), .OUT_W(OUT_W)) rs (.clk, .ce, .in_data(p),
                .out_data(y));
            assign out_data[l*OUT_W +: OUT_W] = y;
        end
    endgenerate
endmodule
