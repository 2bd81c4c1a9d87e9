// Fixed point -> MX: blocks of K signed values (IN_W bits at 2**IN_LSB), PAR per beat, into MX
// elements (WIDTH bits, EBITS exponent bits, 0 = mxint) and an E8M0 scale per block, by the rule of
// mase/golden/CONTRACT.md (shared exponent from the block maximum, round half to even, saturate).
//   in_data  = PAR values (lane j in bits [j*IN_W +: IN_W])
//   out_data = {scale[7:0], PAR element codes}; every beat of a block carries its scale
// FIXED_SCALE >= 0: fixed-point output (fixed8 baseline), constant scale byte, no block buffer.
// Throughput one beat per cycle. Latency (first beat in to first beat out, no stalls): MX:
// K/PAR + 12 cycles (the whole block is needed before its scale is known: |value| and the OR of the
// block's magnitudes, 3 stages of shared exponent, the scale FIFO, 5 quantizer stages; a FIFO of
// 2K/PAR + 10 beats keeps the input flowing); fixed: 5 cycles (the quantizer stages).
// SHORT = 1 (for clocks that allow longer paths; the same codes): K/PAR + 5 and 3 cycles. The block OR
// is taken straight from the input beat, the shared exponent is computed combinationally from it into
// a scale FIFO read without an output register, and the quantizer has 3 stages (mx_quant_elem_pipe SHORT).
module mx_quantize #(
    parameter int PAR         = 4,
    parameter int K           = 32,
    parameter int IN_W        = 32,
    parameter int IN_LSB      = -20,
    parameter int WIDTH       = 4,
    parameter int EBITS       = 0,
    parameter int FIXED_SCALE = -1,
    parameter int SHORT       = 0   // 1: the short pipeline (K/PAR + 5 cycles, see above)
) (
    input  logic                     clk,
    input  logic                     rst,
    input  logic [PAR*IN_W-1:0]      in_data,
    input  logic                     in_valid,
    output logic                     in_ready,
    output logic [8+PAR*WIDTH-1:0]   out_data,
    output logic                     out_valid,
    input  logic                     out_ready
);
    localparam int BIAS = (EBITS == 0) ? 0 : (1 << (EBITS - 1)) - 1;
    localparam int TOP  = (1 << EBITS) - 1;
    localparam int EMAX = (EBITS == 0) ? 0 : ((EBITS == 5) ? TOP - 1 : TOP) - BIAS;
    localparam int BPB  = K / PAR;
    localparam int CW   = (BPB > 1) ? $clog2(BPB) : 1;
    // MX: the shared exponent is the block maximum's, unclamped for every IN_W-bit maximum, so no
    // element overflows its shift (mx_quant_elem_pipe BLOCK_MAX: a narrower mxint shifter)
    localparam int BMAX = (FIXED_SCALE < 0 && IN_LSB - EMAX >= -127 && IN_W - 1 + IN_LSB - EMAX <= 127) ? 1 : 0;
    // mxint MX: the data FIFO holds {sign, magnitude} per lane, the magnitudes the block maximum is
    // taken of, so the quantizer lanes do not negate again (mx_quant_elem_pipe SIGN_MAG)
    localparam int SM   = (FIXED_SCALE < 0 && EBITS == 0) ? 1 : 0;

    // Output side: a QS-stage element quantizer (mx_quant_elem_pipe: 5, SHORT 3) under one enable
    // `adv`: the pipeline moves when its output register can load.
    localparam int QS = (SHORT != 0) ? 3 : 5;
    logic                    adv, fire;
    logic [QS-1:0]           vq;          // valid of each quantizer stage (vq[QS-1] = out_valid)
    logic [PAR*IN_W-1:0]     q_data;      // values (SM: {sign, magnitude}) entering the quantizer
    logic signed [8:0]       q_shared;
    logic [7:0]              scq [QS];    // the scale byte beside each stage
    logic [PAR*WIDTH-1:0]    codes;

    assign adv = !out_valid || out_ready;

    genvar g;
    generate
        for (g = 0; g < PAR; g++) begin : g_lane
            mx_quant_elem_pipe #(.IN_W(IN_W), .IN_LSB(IN_LSB), .WIDTH(WIDTH), .EBITS(EBITS),
                                 .BLOCK_MAX(BMAX), .SIGN_MAG(SM), .SHORT(SHORT)) qe (
                .clk, .ce(adv), .value(q_data[g*IN_W +: IN_W]), .shared(q_shared),
                .code(codes[g*WIDTH +: WIDTH]));
        end

        if (FIXED_SCALE >= 0) begin : g_fixed
            logic unused;
            assign unused   = ^{EMAX, CW};
            assign q_data   = in_data;
            assign q_shared = 9'(FIXED_SCALE - 127);
            assign in_ready = adv;
            assign fire     = adv && in_valid;
        end else begin : g_mx
            // Input side, never stalled: the OR of the block's magnitudes (msb(max |A|) = msb(OR |A|)),
            // its shared exponent into a FIFO of scales (g_long / g_short below). The block's values
            // wait in a FIFO of DDEPTH beats meanwhile.
            localparam int DDEPTH = 1 << $clog2(2 * BPB + 10);
            logic [PAR*IN_W-1:0] mag0;     // |value| of each lane
            logic [PAR-1:0]      neg0;
            logic [CW-1:0]       ib, ob;
            logic                ilast, olast, d_valid, s_valid;
            logic                s_push;   // a block's shared exponent `s_in` enters the scale FIFO
            logic signed [8:0]   s_in;
            logic [8:0]          s_data;

            assign ilast    = ib == CW'(BPB - 1);
            assign olast    = ob == CW'(BPB - 1);

            always_comb begin
                for (int i = 0; i < PAR; i++) begin
                    neg0[i] = in_data[i*IN_W + IN_W - 1];
                    mag0[i*IN_W +: IN_W] = neg0[i] ? IN_W'(-$signed(in_data[i*IN_W +: IN_W])) : in_data[i*IN_W +: IN_W];
                end
            end
            if (SHORT != 0) begin : g_short
                // the block OR including the beat just taken (registered with it), the shared
                // exponent straight from it into a scale FIFO of registers read without an output
                // register: a block's scale is at the FIFO's head the cycle after its last beat.
                // A scale waits from the cycle after its block's last beat is written until that beat
                // leaves: at most 1 + DDEPTH / BPB blocks end in the DDEPTH + 1 beats the data FIFO holds
                localparam int SDS = DDEPTH / BPB + 2;
                localparam int SAW = $clog2(SDS);
                logic [IN_W-1:0]  run1, lane_or;
                logic             bv1;
                logic [8:0]       smem [SDS];
                logic [SAW-1:0]   swp, srp;
                logic [SAW:0]     scnt;
                always_comb begin
                    lane_or = '0;
                    for (int i = 0; i < PAR; i++) lane_or = lane_or | mag0[i*IN_W +: IN_W];
                end
                always_ff @(posedge clk) if (in_valid && in_ready) run1 <= ((ib == '0) ? '0 : run1) | lane_or;
                mx_shared_exp_pipe #(.IN_W(IN_W), .IN_LSB(IN_LSB), .EMAX(EMAX), .COMB(1)) se (.clk, .ce(1'b1), .amax(run1),
                    .shared(s_in));
                assign s_push  = bv1;
                assign s_valid = scnt != '0;
                assign s_data  = smem[srp];
                always_ff @(posedge clk) begin
                    if (s_push) smem[swp] <= s_in;
                    if (rst) begin
                        bv1  <= 1'b0;
                        swp  <= '0;
                        srp  <= '0;
                        scnt <= '0;
                    end else begin
                        bv1 <= in_valid && in_ready && ilast;
                        if (s_push) swp <= (swp == SAW'(SDS - 1)) ? '0 : swp + 1'b1;
                        if (fire && olast) srp <= (srp == SAW'(SDS - 1)) ? '0 : srp + 1'b1;
                        scnt <= scnt + (SAW+1)'(s_push) - (SAW+1)'(fire && olast);
                    end
                end
            end else begin : g_long
                // |value| of each lane (stage 1), their OR accumulated over the block (stage 2;
                // msb(max |A|) = msb(OR |A|)), the shared exponent (stages 3-5, mx_shared_exp_pipe)
                // into a FIFO of scales (mx_fifo: its output registered)
                // every scale in flight or queued belongs to a block still (partly) in the data FIFO
                localparam int SDEPTH = (DDEPTH / BPB > 2) ? 1 << $clog2(DDEPTH / BPB) : 2;
                logic [IN_W-1:0]     mag1 [PAR];
                logic [IN_W-1:0]     run2, lane_or;
                logic                acc1, first1, last1, bv2, sv3, sv4, s_in_ready;
                always_ff @(posedge clk) begin
                    for (int i = 0; i < PAR; i++) mag1[i] <= mag0[i*IN_W +: IN_W];
                    first1 <= ib == '0;
                    last1  <= ilast;
                    if (acc1) run2 <= (first1 ? '0 : run2) | lane_or;
                end
                always_comb begin
                    lane_or = '0;
                    for (int i = 0; i < PAR; i++) lane_or = lane_or | mag1[i];
                end
                mx_shared_exp_pipe #(.IN_W(IN_W), .IN_LSB(IN_LSB), .EMAX(EMAX)) se (.clk, .ce(1'b1), .amax(run2),
                    .shared(s_in));
                mx_fifo #(.WIDTH(9), .DEPTH(SDEPTH)) sfifo (.clk, .rst, .in_data(s_in),
                    .in_valid(s_push), .in_ready(s_in_ready), .out_data(s_data),
                    .out_valid(s_valid), .out_ready(fire && olast));
                always_ff @(posedge clk) begin
                    if (rst) begin
                        acc1   <= 1'b0;
                        bv2    <= 1'b0;
                        sv3    <= 1'b0;
                        sv4    <= 1'b0;
                        s_push <= 1'b0;
                    end else begin
                        acc1   <= in_valid && in_ready;
                        bv2    <= acc1 && last1;
                        sv3    <= bv2;
                        sv4    <= sv3;
                        s_push <= sv4;
                    end
                end
                logic unused_s;
                assign unused_s = s_in_ready;  // never full: SDEPTH covers the blocks the data FIFO holds
            end

            if (SM != 0) begin : g_dsm
                // IN_W bits a lane, {sign, |value| below its top bit}: |value| has its top bit only for
                // -2**(IN_W-1), which is stored as {1, zeros}, the one code no other value has (the
                // quantizer lane restores it; the FIFO keeps its width and its block RAM)
                logic [PAR*IN_W-1:0] f_in;
                always_comb
                    for (int i = 0; i < PAR; i++) f_in[i*IN_W +: IN_W] = {neg0[i], mag0[i*IN_W +: IN_W-1]};
                mx_fifo #(.WIDTH(PAR*IN_W), .DEPTH(DDEPTH)) dfifo (.clk, .rst, .in_data(f_in),
                    .in_valid, .in_ready, .out_data(q_data),
                    .out_valid(d_valid), .out_ready(adv && s_valid));
            end else begin : g_dv
                mx_fifo #(.WIDTH(PAR*IN_W), .DEPTH(DDEPTH)) dfifo (.clk, .rst, .in_data,
                    .in_valid, .in_ready, .out_data(q_data),
                    .out_valid(d_valid), .out_ready(adv && s_valid));
            end
            assign q_shared = $signed(s_data);
            assign fire     = adv && s_valid && d_valid;

            always_ff @(posedge clk) begin
                if (rst) begin
                    ib <= '0;
                    ob <= '0;
                end else begin
                    if (in_valid && in_ready) ib <= ilast ? '0 : ib + 1'b1;
                    if (fire) ob <= olast ? '0 : ob + 1'b1;
                end
            end
        end
    endgenerate

    always_ff @(posedge clk) begin
        if (rst) begin
            vq <= '0;
        end else if (adv) begin
            vq <= {vq[QS-2:0], fire};
        end
        if (adv) begin
            scq[0] <= 8'(q_shared + 9'sd127);
            for (int i = 1; i < QS; i++) scq[i] <= scq[i-1];
        end
    end
    assign out_valid = vq[QS-1];
    assign out_data = {scq[QS-1], codes};
endmodule
