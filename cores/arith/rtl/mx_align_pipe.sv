// mx_align in a 3-stage pipeline (advances when ce; latency 3 ce-cycles, one value per cycle):
// out = floor(in * 2**(shift + SH_OFF)) saturated to OUT_W signed bits, exactly as mx_align (of the
// shift plus the constant SH_OFF: a caller's constant offset folds into the compares, no adder).
// With e = shift + RCAP clamped to [0, RCAP + LCAP] (RCAP = IN_W - 1: a larger right shift gives 0
// or -1 either way; LCAP = OUT_W - 1: a larger left shift saturates every input but 0 and -1, and -1
// gives the minimum, its saturated value, at LCAP already), out is bits [RCAP +: OUT_W] of in * 2**e,
// saturated when q + e >= RCAP + OUT_W (q: the bits of in below its sign that differ from it).
// One left shift that produces only the OUT_W bits kept, no right shifter, and no wide overflow test:
//   1. e (constant compares beside the addition) and q (a priority encoder of IN_W - 1 bits)
//   2. the shift, and the saturation flag q + e >= RCAP + OUT_W
//   3. saturation
module mx_align_pipe #(
    parameter int IN_W  = 16,
    parameter int SH_W  = 12,  // signed shift amount width
    parameter int OUT_W = 32,
    parameter int SH_OFF = 0   // constant added to `shift`
) (
    input  logic                    clk,
    input  logic                    ce,
    input  logic signed [IN_W-1:0]  in,
    input  logic signed [SH_W-1:0]  shift,
    output logic signed [OUT_W-1:0] out
);
    localparam int RCAP = IN_W - 1;
    localparam int LCAP = OUT_W - 1;
    localparam int EMAX = RCAP + LCAP;
    localparam int EW   = $clog2(EMAX + 1);
    localparam int WW   = RCAP + OUT_W;          // the bits of in * 2**e up to the kept ones
    localparam int QW   = $clog2(IN_W + 1);
    localparam int CW   = ((EW > QW) ? EW : QW) + 1;  // q + e

    logic signed [IN_W-1:0]  in1;
    logic [EW-1:0]           e1;
    logic [QW-1:0]           q, q1;
    logic signed [WW-1:0]    wide;
    logic [OUT_W-1:0]        kept2;
    logic                    sat2, neg2;

    // stage 1: the clamps compare `shift` with constants; only EW bits of shift + SH_OFF + RCAP are formed
    logic lsat, rsat;
    assign lsat = 32'(shift) > LCAP - SH_OFF;
    assign rsat = 32'(shift) < -RCAP - SH_OFF;
    always_comb begin
        q = '0;
        for (int i = 0; i < IN_W - 1; i++) if (in[i] != in[IN_W-1]) q = QW'(i + 1);
    end
    always_ff @(posedge clk) begin
        if (ce) begin
            in1 <= in;
            q1  <= q;
            if (lsat) e1 <= EW'(EMAX);
            else if (rsat) e1 <= '0;
            else e1 <= EW'(shift) + EW'(RCAP + SH_OFF);
        end
    end

    // stage 2: the shift (only bits RCAP .. RCAP+OUT_W-1 are used) and the overflow flag
    assign wide = WW'(in1) <<< e1;
    always_ff @(posedge clk) begin
        if (ce) begin
            kept2 <= wide[RCAP +: OUT_W];
            sat2  <= CW'(q1) + CW'(e1) >= CW'(RCAP + OUT_W);
            neg2  <= in1[IN_W-1];
        end
    end
    logic unused_low;
    generate
        if (RCAP > 0) begin : g_low
            assign unused_low = ^wide[RCAP-1:0];
        end else begin : g_nolow
            assign unused_low = 1'b0;
        end
    endgenerate

    // stage 3: saturation
    always_ff @(posedge clk) begin
        if (ce) begin
            if (sat2) out <= neg2 ? {1'b1, {(OUT_W - 1) {1'b0}}} : {1'b0, {(OUT_W - 1) {1'b1}}};
            else out <= kept2;
        end
    end
endmodule
