// Re-scale a signed value by 2**-SHIFT and saturate it to OUT_W bits (combinational).
//   SHIFT > 0: round half up, (in + 2**(SHIFT-1)) >>> SHIFT;  SHIFT <= 0: exact left shift.
//   Saturation is symmetric, to +-(2**(OUT_W-1) - 1), as in mase.golden.nonlinear.saturate.
module mx_round_sat #(
    parameter int IN_W  = 32,
    parameter int SHIFT = 0,
    parameter int OUT_W = 16
) (
    input  logic signed [IN_W-1:0]  in_data,
    output logic signed [OUT_W-1:0] out_data
);
    localparam int LSH = (SHIFT < 0) ? -SHIFT : 0;
    localparam int EW  = ((IN_W + 1 + LSH) > (OUT_W + 1)) ? (IN_W + 1 + LSH) : (OUT_W + 1);

    logic signed [EW-1:0] ext, r;
    assign ext = EW'(in_data);
    generate
        if (SHIFT > 0) begin : g_right
            localparam logic signed [EW-1:0] HALF = EW'(1) <<< (SHIFT - 1);
            logic signed [EW-1:0] biased;
            assign biased = ext + HALF;
            assign r      = biased >>> SHIFT;
        end else begin : g_left
            assign r = ext <<< LSH;
        end
    endgenerate
    mx_sat_sym #(.IN_W(EW), .OUT_W(OUT_W)) sat (.in_data(r), .out_data(out_data));
endmodule
