// Symmetric saturation of a signed IN_W-bit value to OUT_W bits, +-(2**(OUT_W-1) - 1) (combinational).
// Range tests on the bits, not magnitude compares: the value fits when its bits from OUT_W-1 up are
// all equal (a sign extension) and it is not -2**(OUT_W-1). A compare against a constant became a
// carry chain as long as the value (34 bits: 13 ns of the iCE40's 31 ns in mx_residual_add).
module mx_sat_sym #(
    parameter int IN_W  = 33,
    parameter int OUT_W = 32
) (
    input  logic signed [IN_W-1:0]  in_data,
    output logic signed [OUT_W-1:0] out_data
);
    localparam logic [OUT_W-1:0] MAXV = {1'b0, {(OUT_W - 1){1'b1}}};
    localparam logic [OUT_W-1:0] MINV = {1'b1, {(OUT_W - 2){1'b0}}, 1'b1};

    generate
        if (IN_W <= OUT_W || OUT_W < 2) begin : g_bad
            $error("mx_sat_sym: IN_W must exceed OUT_W, and OUT_W be at least 2");
        end
    endgenerate

    logic sign, hi_zero, hi_ones, lo_zero;
    assign sign    = in_data[IN_W-1];
    assign hi_zero = ~|in_data[IN_W-1:OUT_W-1];
    assign hi_ones = &in_data[IN_W-1:OUT_W-1];
    assign lo_zero = ~|in_data[OUT_W-2:0];
    assign out_data = (!sign && !hi_zero) ? MAXV
                    : (sign && (!hi_ones || lo_zero)) ? MINV : in_data[OUT_W-1:0];
endmodule
