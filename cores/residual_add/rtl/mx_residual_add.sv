// Residual add of LANES lanes with format alignment (mase.golden.nonlinear.residual_int):
//   F = max(A_F, B_F); s = a * 2**(F - A_F) + b * 2**(F - B_F) (exact); y = sat(round(s * 2**(OUT_F - F)))
//   a_data = LANES x A_W, b_data = LANES x B_W (joined per beat), out_data = LANES x OUT_W.
// Latency 2 cycles (the exact sum | round and saturate), one beat per cycle; both registers are
// enabled by ce = !out_valid || out_ready.
module mx_residual_add #(
    parameter int LANES = 1,
    parameter int A_W   = 32,
    parameter int A_F   = 16,
    parameter int B_W   = 32,
    parameter int B_F   = 16,
    parameter int OUT_W = 32,
    parameter int OUT_F = 16
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
    localparam int F   = (A_F > B_F) ? A_F : B_F;
    localparam int AWX = A_W + F - A_F;
    localparam int BWX = B_W + F - B_F;
    localparam int SW  = ((AWX > BWX) ? AWX : BWX) + 1;

    logic ce, v1;
    assign ce      = !out_valid || out_ready;
    assign a_ready = ce && b_valid;
    assign b_ready = ce && a_valid;

    always_ff @(posedge clk) begin
        if (rst) begin
            v1        <= 1'b0;
            out_valid <= 1'b0;
        end else if (ce) begin
            v1        <= a_valid && b_valid;
            out_valid <= v1;
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [SW-1:0]    s;
            logic signed [OUT_W-1:0] y;
            always_ff @(posedge clk) if (ce) s <= (SW'($signed(a_data[l*A_W +: A_W])) <<< (F - A_F))
                                                + (SW'($signed(b_data[l*B_W +: B_W])) <<< (F - B_F));
            mx_round_sat #(.IN_W(SW), .SHIFT(F - OUT_F), .OUT_W(OUT_W)) rs (.in_data(s), .out_data(y));
            always_ff @(posedge clk) if (ce) out_data[l*OUT_W +: OUT_W] <= y;
        end
    endgenerate
endmodule
