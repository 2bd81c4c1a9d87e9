// MX -> fixed point: out = floor(I * 2**(scale - 127 + LSB - OUT_LSB)) saturated to OUT_W signed
// bits per element (the accumulator's alignment rule, mase/golden/CONTRACT.md).
//   in_data  = {scale[7:0], PAR element codes}; K/PAR beats per block, scale from the first beat
//   out_data = PAR values of OUT_W bits (lane j in bits [j*OUT_W +: OUT_W])
// FIXED_SCALE >= 0: the scale field is ignored and that constant byte used (fixed8).
// SEG < SEG_PAD: the stream is segments of SEG_PAD elements (whole blocks) of which the last
// SEG_PAD - SEG are MX padding (zeros): those beats are consumed and dropped (PAR divides SEG).
// Pipelined, every register enabled by ce = !out_valid || out_ready (= in_ready); latency 4 cycles,
// one beat per cycle: the decoded element and the block's shift, clamped to [-(IW-1), OUT_W] (the
// caps of mx_align, so the result is the same) | the element shifted left by the coarse part (a
// multiple of 8) of shift + IW - 1 | by the fine part | floor (>>> IW - 1, wiring) and saturate.
module mx_dequantize #(
    parameter int PAR         = 4,
    parameter int K           = 32,
    parameter int WIDTH       = 4,
    parameter int EBITS       = 0,
    parameter int OUT_W       = 16,
    parameter int OUT_LSB     = -8,
    parameter int FIXED_SCALE = -1,
    parameter int SEG         = K,
    parameter int SEG_PAD     = K
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [8+PAR*WIDTH-1:0] in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    output logic [PAR*OUT_W-1:0]   out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    localparam int M    = WIDTH - 1 - EBITS;
    localparam int BIAS = (EBITS == 0) ? 0 : (1 << (EBITS - 1)) - 1;
    localparam int ELSB = (EBITS == 0) ? -(WIDTH - 2) : 1 - BIAS - M;
    localparam int IW   = (EBITS == 0) ? WIDTH : WIDTH - EBITS + (1 << EBITS) - 1;
    localparam int BPB  = K / PAR;
    localparam int CW   = (BPB > 1) ? $clog2(BPB) : 1;

    localparam int SA_W = ($clog2(OUT_W + IW) > 4) ? $clog2(OUT_W + IW) : 4;  // shift + IW - 1: 0 .. OUT_W + IW - 1
    localparam int VW   = OUT_W + 2 * IW;       // in << amount, exact
    localparam logic signed [VW-1:0] MAXV = VW'({1'b0, {(OUT_W - 1) {1'b1}}});
    localparam logic signed [VW-1:0] MINV = -MAXV - VW'(1);

    logic                   take;
    logic [2:0]             vs;
    logic [CW-1:0]          beat;
    logic [7:0]             scale, scale_hold;
    logic [SA_W-1:0]        amt1;
    logic [2:0]             fine2;
    logic                   keep;  // the beat is not padding

    assign take     = !out_valid || out_ready;
    assign in_ready = take;

    generate
        if (FIXED_SCALE >= 0) begin : g_fixed
            logic unused;
            assign unused = ^{in_data[8+PAR*WIDTH-1 -: 8], beat, scale_hold};
            assign scale  = 8'(FIXED_SCALE);
        end else begin : g_mx
            assign scale = (beat == '0) ? in_data[8+PAR*WIDTH-1 -: 8] : scale_hold;
        end
    endgenerate
    // amount = clamp(shift, -(IW-1), OUT_W) + IW - 1 = clamp(scale + C, 0, AMAX): the clamps compare the
    // scale byte with constants, beside one adder
    localparam int C    = ELSB - OUT_LSB - 127 + IW - 1;
    localparam int AMAX = OUT_W + IW - 1;
    logic [SA_W-1:0] amt;
    assign amt = (12'($signed({4'd0, scale})) >= 12'(AMAX - C)) ? SA_W'(AMAX)
               : (12'($signed({4'd0, scale})) <= 12'(-C)) ? '0 : SA_W'(12'($signed({4'd0, scale})) + 12'(C));
    always_ff @(posedge clk) if (take) begin
        amt1  <= amt;
        fine2 <= amt1[2:0];
    end

    genvar g;
    generate
        for (g = 0; g < PAR; g++) begin : g_lane
            logic signed [IW-1:0] ival, ival1;
            logic signed [VW-1:0] v2, v3, f;
            logic fits;  // bits OUT_W-1 up all equal: a bit test, not a VW-bit compare (a carry chain)
            mx_elem_to_int #(.WIDTH(WIDTH), .EBITS(EBITS)) dec (.code(in_data[g*WIDTH +: WIDTH]), .value(ival));
            assign f    = v3 >>> (IW - 1);
            assign fits = (&f[VW-1:OUT_W-1]) || !(|f[VW-1:OUT_W-1]);
            always_ff @(posedge clk) if (take) begin
                ival1 <= ival;
                v2    <= VW'(ival1) <<< {amt1[SA_W-1:3], 3'b000};
                v3    <= v2 <<< fine2;
                out_data[g*OUT_W +: OUT_W] <= fits ? f[OUT_W-1:0] : f[VW-1] ? MINV[OUT_W-1:0] : MAXV[OUT_W-1:0];
            end
        end
    endgenerate

    generate
        if (SEG < SEG_PAD) begin : g_unpad
            localparam int SB = SEG_PAD / PAR;
            localparam int SW = $clog2(SB);
            logic [SW-1:0] sbeat;
            assign keep = sbeat < SW'(SEG / PAR);
            always_ff @(posedge clk) begin
                if (rst) sbeat <= '0;
                else if (take && in_valid) sbeat <= (sbeat == SW'(SB - 1)) ? '0 : sbeat + 1'b1;
            end
        end else begin : g_whole
            assign keep = 1'b1;
        end
    endgenerate

    always_ff @(posedge clk) begin
        if (rst) begin
            vs        <= '0;
            out_valid <= 1'b0;
            beat      <= '0;
        end else if (take) begin
            vs        <= {vs[1:0], in_valid && keep};
            out_valid <= vs[2];
            if (in_valid) begin
                beat       <= (beat == CW'(BPB - 1)) ? '0 : beat + 1'b1;
                scale_hold <= scale;
            end
        end
    end
endmodule
