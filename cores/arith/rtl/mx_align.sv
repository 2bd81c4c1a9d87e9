// Fixed-point alignment: out = floor(in * 2**shift) saturated to OUT_W signed bits (arithmetic
// shift right truncates toward minus infinity; shift left is exact before saturation).
// Combinational.
module mx_align #(
    parameter int IN_W  = 16,
    parameter int SH_W  = 12,  // signed shift amount width
    parameter int OUT_W = 32
) (
    input  logic signed [IN_W-1:0]  in,
    input  logic signed [SH_W-1:0]  shift,
    output logic signed [OUT_W-1:0] out
);
    localparam int LW = IN_W + OUT_W + 1;
    localparam logic signed [LW-1:0] MAXV = LW'({1'b0, {(OUT_W - 1) {1'b1}}});
    localparam logic signed [LW-1:0] MINV = -MAXV - LW'(1);
    localparam int LCAP = OUT_W;      // a larger left shift saturates any non-zero input
    localparam int RCAP = IN_W - 1;   // a larger right shift gives 0 or -1 either way

    logic signed [LW-1:0] wide;
    logic        [SH_W-1:0] amount;

    always_comb begin
        if (!shift[SH_W-1]) begin
            amount = (shift > SH_W'(LCAP)) ? SH_W'(LCAP) : shift;
            wide   = LW'(in) <<< amount;
        end else begin
            amount = (-shift > SH_W'(RCAP)) ? SH_W'(RCAP) : -shift;
            wide   = LW'(in) >>> amount;
        end
        if (wide > MAXV) out = MAXV[OUT_W-1:0];
        else if (wide < MINV) out = MINV[OUT_W-1:0];
        else out = wide[OUT_W-1:0];
    end
endmodule
