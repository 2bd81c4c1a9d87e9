// mx_align in a 3-stage pipeline (advances when ce; latency 3 ce-cycles, one value per cycle):
// out = floor(in * 2**shift) saturated to OUT_W signed bits, exactly as mx_align.
//   1. direction and clamped amount of the shift
//   2. the barrel shift (IN_W + OUT_W + 1 bits)
//   3. saturation, from the bits above OUT_W - 1 (all equal to the sign, or saturate)
module mx_align_pipe #(
    parameter int IN_W  = 16,
    parameter int SH_W  = 12,  // signed shift amount width
    parameter int OUT_W = 32
) (
    input  logic                    clk,
    input  logic                    ce,
    input  logic signed [IN_W-1:0]  in,
    input  logic signed [SH_W-1:0]  shift,
    output logic signed [OUT_W-1:0] out
);
    localparam int LW   = IN_W + OUT_W + 1;
    localparam int LCAP = OUT_W;      // a larger left shift saturates any non-zero input
    localparam int RCAP = IN_W - 1;   // a larger right shift gives 0 or -1 either way
    localparam int AW   = $clog2(((LCAP > RCAP) ? LCAP : RCAP) + 1);

    logic signed [IN_W-1:0] in1;
    logic                   left1;
    logic [AW-1:0]          amt1;
    logic signed [LW-1:0]   wide2;
    logic                   pos, neg;

    // the caps compare `shift` with constants; only AW bits of -shift are formed
    logic signed [SH_W-1:0] RNEG;
    logic                   lsat, rsat;
    logic [AW-1:0]          neg_amt;
    assign RNEG    = -SH_W'(RCAP);
    assign lsat    = shift > SH_W'(LCAP);
    assign rsat    = shift < RNEG;
    assign neg_amt = AW'(~shift) + AW'(1);
    always_ff @(posedge clk) begin
        if (ce) begin
            in1 <= in;
            if (!shift[SH_W-1]) begin
                left1 <= 1'b1;
                amt1  <= lsat ? AW'(LCAP) : AW'(shift);
            end else begin
                left1 <= 1'b0;
                amt1  <= rsat ? AW'(RCAP) : neg_amt;
            end
        end
    end

    always_ff @(posedge clk) if (ce) wide2 <= left1 ? LW'(in1) <<< amt1 : LW'(in1) >>> amt1;

    // above MAXV: non-negative with a one above bit OUT_W-2; below MINV: negative with a zero there
    assign pos = !wide2[LW-1] && (|wide2[LW-2:OUT_W-1]);
    assign neg = wide2[LW-1] && !(&wide2[LW-2:OUT_W-1]);
    always_ff @(posedge clk) begin
        if (ce) begin
            if (pos) out <= {1'b0, {(OUT_W - 1) {1'b1}}};
            else if (neg) out <= {1'b1, {(OUT_W - 1) {1'b0}}};
            else out <= wide2[OUT_W-1:0];
        end
    end
endmodule
