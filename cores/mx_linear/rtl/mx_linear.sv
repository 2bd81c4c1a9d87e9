// MX linear layer y = W x + b for a stream of input vectors (mase/golden/CONTRACT.md, golden model
// mase.golden.linear). Weights in MX, held in on-chip ROMs initialised from image files written by
// mase.eda.linear_images (W_SOURCE = 0), or streamed in over w_* in the same word order for every
// input vector (W_SOURCE = 1, for layers too large for on-chip memory), or loaded row by row into
// one of two on-chip RAM banks from w_* and used for ROWS input vectors while the next matrix
// loads into the other bank (W_SOURCE = 2: the activation x activation product of mx_matmul).
//
//   in_data  = {scale[7:0], IN_PAR x elements}: IN_FEATURES/IN_PAR beats per vector, K/IN_PAR per block
//   out_data = {scale[7:0], OUT_PAR x elements}: OUT_FEATURES/OUT_PAR beats per vector, re-quantized
//              to the output format in blocks of K_OUT (K_OUT/OUT_PAR beats per block)
//   w_data   = W_SOURCE 1: {OUT_PAR x scale[7:0], OUT_PAR x IN_PAR x elements} per weight word;
//              W_SOURCE 2: {scale[7:0], IN_PAR x elements} in the low bits, rows of W in order,
//              IN_FEATURES/IN_PAR beats per row
//
// Datapath: OUT_PAR lanes of IN_PAR multipliers; per lane, exact block sum S, alignment of S to
// 2**ACC_LSB (floor, saturation to ACC_W bits), exact accumulation of the NB blocks and the bias,
// then mx_quantize. Each vector is computed in OUT_FEATURES/OUT_PAR passes over a double-buffered
// copy of it: IN_FEATURES*OUT_FEATURES/(IN_PAR*OUT_PAR) cycles per vector, one MAC beat per cycle.
// The first pass reads each beat as soon as it has been written (not after the whole vector), so it
// overlaps the vector's arrival: the last row group is issued (NRG - 1) * BEATS cycles after the last beat.
// Pipeline: 9 register stages from a row group's issue to its sum (see "lanes"), then mx_quantize's.
// *_FIXED_SCALE >= 0 makes that operand fixed point (fixed8): a constant scale, no scale datapath.
// B_BANKS > 1 (layer reuse, hw.fold): the bias image holds B_BANKS banks of row groups (one decoder
// layer's bias each); bank b serves B_VECTORS input vectors (a pass over the prompt), then bank b + 1.
module mx_linear #(
    parameter int    IN_FEATURES   = 64,
    parameter int    OUT_FEATURES  = 32,
    parameter int    K             = 32,
    parameter int    K_OUT         = 32,
    parameter int    IN_PAR        = 4,
    parameter int    OUT_PAR       = 4,
    parameter int    X_WIDTH       = 4,
    parameter int    X_EBITS       = 0,
    parameter int    X_FIXED_SCALE = -1,
    parameter int    W_WIDTH       = 4,
    parameter int    W_EBITS       = 0,
    parameter int    W_FIXED_SCALE = -1,
    parameter int    O_WIDTH       = 4,
    parameter int    O_EBITS       = 0,
    parameter int    O_FIXED_SCALE = -1,
    parameter int    ACC_LSB       = -20,
    parameter int    ACC_W         = 32,
    parameter int    HAS_BIAS      = 1,
    parameter int    B_BANKS       = 1,   // bias banks (layer reuse): bank b for B_VECTORS vectors, then b + 1
    parameter int    B_VECTORS     = 1,
    parameter int    W_SOURCE      = 0,
    parameter int    ROWS          = 1,
    parameter int    SHARE         = 1,   // 1: lanes share aligner/accumulator/quantizer lanes where throughput allows; n > 1: at most n lanes
    parameter int    DSP_PACK      = -1,  // two narrow products per DSP multiplier (mx_dot_lane); -1: `MASE_DSP_PACK
    parameter int    SHORT         = 0,   // 1: 9 cycles less: no stages 2 and 4 (see "lanes"), mx_quantize SHORT
`ifdef YOSYS  // Yosys 0.23 has no string parameter type
    parameter        W_FILE        = "",
    parameter        S_FILE        = "",
    parameter        B_FILE        = ""
`else
    parameter string W_FILE        = "",
    parameter string S_FILE        = "",
    parameter string B_FILE        = ""
`endif
) (
    input  logic                                    clk,
    input  logic                                    rst,
    input  logic [8+IN_PAR*X_WIDTH-1:0]             in_data,
    input  logic                                    in_valid,
    output logic                                    in_ready,
    input  logic [OUT_PAR*(8+IN_PAR*W_WIDTH)-1:0]   w_data,
    input  logic                                    w_valid,
    output logic                                    w_ready,
    output logic [8+OUT_PAR*O_WIDTH-1:0]            out_data,
    output logic                                    out_valid,
    input  logic                                    out_ready
);
    // ---------------------------------------------------------------- derived sizes
    localparam int BEATS = IN_FEATURES / IN_PAR;   // beats per input vector
    localparam int NB    = IN_FEATURES / K;        // blocks per input vector
    localparam int BPB   = K / IN_PAR;             // beats per block
    localparam int NRG   = OUT_FEATURES / OUT_PAR; // row groups (passes over a vector)
    localparam int XM    = X_WIDTH - 1 - X_EBITS;
    localparam int WM    = W_WIDTH - 1 - W_EBITS;
    localparam int X_LSB = (X_EBITS == 0) ? -(X_WIDTH - 2) : 2 - (1 << (X_EBITS - 1)) - XM;
    localparam int W_LSB = (W_EBITS == 0) ? -(W_WIDTH - 2) : 2 - (1 << (W_EBITS - 1)) - WM;
    localparam int X_IW  = (X_EBITS == 0) ? X_WIDTH : X_WIDTH - X_EBITS + (1 << X_EBITS) - 1;
    localparam int W_IW  = (W_EBITS == 0) ? W_WIDTH : W_WIDTH - W_EBITS + (1 << W_EBITS) - 1;
    localparam int S_W   = X_IW + W_IW + $clog2(K);   // exact block sum
    localparam int TOT_W = ACC_W + $clog2(NB + 1);        // exact sum of NB terms and the bias
    localparam int SHIFT0 = X_LSB + W_LSB - 254 - ACC_LSB;
    localparam int XE    = IN_PAR * X_WIDTH;
    localparam int WE    = OUT_PAR * IN_PAR * W_WIDTH;
    localparam int XBW   = $clog2(2 * BEATS);
    localparam int XSW   = (2 * NB > 1) ? $clog2(2 * NB) : 1;
    localparam int JW    = $clog2(BEATS + 1);
    localparam int BW    = $clog2(NB + 1);
    localparam int JBW   = $clog2(BPB + 1);
    localparam int RW    = (NRG > 1) ? $clog2(NRG) : 1;
    localparam int BKW   = (B_BANKS > 1) ? $clog2(B_BANKS) : 1;
    localparam int BAW   = (B_BANKS * NRG > 1) ? $clog2(B_BANKS * NRG) : 1;
    localparam int WAW   = (NRG * BEATS > 1) ? $clog2(NRG * BEATS) : 1;
    localparam int SAW   = (NRG * NB > 1) ? $clog2(NRG * NB) : 1;

    // the largest divisor of op that is <= bpb and (share > 1) <= share (1 when share == 0)
    function automatic integer share_group(input integer op, input integer bpb, input integer share);
        integer g, d;
        g = 1;
        if (share != 0)
            for (d = 1; d <= op; d = d + 1)
                if (op % d == 0 && d <= bpb && (share == 1 || d <= share)) g = d;
        share_group = g;
    endfunction

    // ---------------------------------------------------------------- input vector double buffer
    logic [XE-1:0]  xmem  [2*BEATS];
    logic [7:0]     xsmem [2*NB];
    logic [1:0]     full;
    logic           wbank, rbank;
    logic [JW-1:0]  wj;
    logic [JBW-1:0] wjb;
    logic [BW-1:0]  wblk;

    assign in_ready = !full[wbank];

    always_ff @(posedge clk) begin
        if (in_valid && in_ready) begin
            xmem[XBW'(wbank ? BEATS : 0) + XBW'(wj)] <= in_data[XE-1:0];
            if (wjb == '0) xsmem[XSW'(wbank ? NB : 0) + XSW'(wblk)] <= in_data[XE +: 8];
        end
    end

    // ---------------------------------------------------------------- issue (stage 0)
    logic           ce, go, v1, lib1, lb1;
    logic [JW-1:0]  j;
    logic [JBW-1:0] jb;
    logic [BW-1:0]  blk;
    logic [RW-1:0]  rg, rg1;
    logic [BKW-1:0] bk, bk1;     // the bias bank of the vector being issued (B_BANKS > 1)
    int             bvec;        // vectors issued with bank bk
    logic [WAW-1:0] waddr;
    logic [SAW-1:0] saddr;
    logic           last_j, last_jb, last_rg;
    logic [XE-1:0]  x1;
    logic [7:0]     xs1;
    logic [WE-1:0]  w1;
    logic [OUT_PAR*8-1:0] ws1;

    assign last_j  = j == JW'(BEATS - 1);
    assign last_jb = jb == JBW'(BPB - 1);
    assign last_rg = rg == RW'(NRG - 1);
    logic           loaded;      // W_SOURCE 2: the bank being computed holds a complete matrix
    logic           wram_ready;  // W_SOURCE 2: the bank being loaded is free
    // The first pass over a vector starts before the vector is whole: beat j of the bank being written
    // is read once it has been written (j < wj). The later passes find the bank full (pass 0 issues the
    // last beat only then), so a vector's first row group ends right after its last input beat.
    logic           avail;
    assign avail   = full[rbank] || (wbank == rbank && j < wj);
    assign go      = avail && ce && (W_SOURCE == 0 || (W_SOURCE == 1 && w_valid) || (W_SOURCE == 2 && loaded));
    assign w_ready = (W_SOURCE == 1) ? avail && ce : (W_SOURCE == 2) && wram_ready;

    always_ff @(posedge clk) begin
        if (rst) begin
            full  <= '0;
            wbank <= 1'b0;
            rbank <= 1'b0;
            wj    <= '0;
            wjb   <= '0;
            wblk  <= '0;
            j     <= '0;
            jb    <= '0;
            blk   <= '0;
            rg    <= '0;
            bk    <= '0;
            bvec  <= 0;
            waddr <= '0;
            saddr <= '0;
            v1    <= 1'b0;
        end else begin
            if (in_valid && in_ready) begin
                wjb <= (wjb == JBW'(BPB - 1)) ? '0 : wjb + 1'b1;
                if (wjb == JBW'(BPB - 1)) wblk <= wblk + 1'b1;
                if (wj == JW'(BEATS - 1)) begin
                    wj    <= '0;
                    wblk  <= '0;
                    wbank <= !wbank;
                end else begin
                    wj <= wj + 1'b1;
                end
            end
            if (ce) v1 <= go;
            if (go) begin
                jb <= last_jb ? '0 : jb + 1'b1;
                if (last_jb) begin
                    blk   <= blk + 1'b1;
                    saddr <= saddr + 1'b1;
                end
                waddr <= waddr + 1'b1;
                j     <= j + 1'b1;
                if (last_j) begin
                    j   <= '0;
                    blk <= '0;
                    rg  <= rg + 1'b1;
                    if (last_rg) begin
                        rg    <= '0;
                        waddr <= '0;
                        saddr <= '0;
                        rbank <= !rbank;
                        if (bvec == B_VECTORS - 1) begin
                            bvec <= 0;
                            bk   <= (bk == BKW'(B_BANKS - 1)) ? '0 : bk + 1'b1;
                        end else bvec <= bvec + 1;
                    end
                end
            end
            // a bank fills on its last input beat and empties on its last issue
            for (int b = 0; b < 2; b++) begin
                if (in_valid && in_ready && wj == JW'(BEATS - 1) && wbank == b[0]) full[b] <= 1'b1;
                if (go && last_j && last_rg && rbank == b[0]) full[b] <= 1'b0;
            end
        end
    end

    always_ff @(posedge clk) begin
        if (go) begin
            x1   <= xmem[XBW'(rbank ? BEATS : 0) + XBW'(j)];
            xs1  <= xsmem[XSW'(rbank ? NB : 0) + XSW'(blk)];
            lib1 <= last_jb;
            lb1  <= last_j;
            rg1  <= rg;
            bk1  <= bk;
        end
    end

    // ---------------------------------------------------------------- weights
    generate
        if (W_SOURCE == 0) begin : g_rom
            logic [WE-1:0] wmem [NRG*BEATS];
`ifdef YOSYS
            initial if (W_FILE != "") $readmemh(W_FILE, wmem);  // Yosys reads the default too
`else
            initial $readmemh(W_FILE, wmem);
`endif
            always_ff @(posedge clk) if (go) w1 <= wmem[waddr];
            if (W_FIXED_SCALE < 0) begin : g_ws
                logic [OUT_PAR*8-1:0] wsmem [NRG*NB];
`ifdef YOSYS
                initial if (S_FILE != "") $readmemh(S_FILE, wsmem);  // Yosys reads the default too
`else
                initial $readmemh(S_FILE, wsmem);
`endif
                always_ff @(posedge clk) if (go) ws1 <= wsmem[saddr];
            end else begin : g_wfix
                assign ws1 = {OUT_PAR{8'(W_FIXED_SCALE)}};
            end
            logic unused_w;
            assign unused_w = ^{w_data, w_valid};
            assign loaded     = 1'b1;
            assign wram_ready = 1'b0;
        end else if (W_SOURCE == 1) begin : g_stream
            always_ff @(posedge clk) begin
                if (go) begin
                    w1  <= w_data[WE-1:0];
                    ws1 <= (W_FIXED_SCALE < 0) ? w_data[WE +: OUT_PAR*8] : {OUT_PAR{8'(W_FIXED_SCALE)}};
                end
            end
            assign loaded     = 1'b1;
            assign wram_ready = 1'b0;
            logic unused_w;
            assign unused_w = ^{waddr, saddr};
        end else begin : g_ram
            // Two banks: one is loaded from w_* while the other serves ROWS input vectors.
            // Load: row r = lrg*OUT_PAR + lp goes to lane lp at addresses lrg*BEATS + lj
            // (elements) and lrg*NB + lblk (scales) of bank lbank.
            localparam int PW_ = (OUT_PAR > 1) ? $clog2(OUT_PAR) : 1;
            localparam int VW_ = (ROWS > 1) ? $clog2(ROWS) : 1;
            localparam int RAW = $clog2(2 * NRG * BEATS);
            localparam int RSW = $clog2(2 * NRG * NB);
            logic [JW-1:0]  lj;
            logic [JBW-1:0] ljb;
            logic [BW-1:0]  lblk;
            logic [PW_-1:0] lp;
            logic [RW-1:0]  lrg;
            logic [WAW-1:0] lwbase;
            logic [SAW-1:0] lsbase;
            logic [VW_-1:0] vcnt;
            logic [1:0]     lfull;
            logic           lbank, cbank, wfire, lrow_end;
            assign wfire      = w_valid && w_ready;
            assign lrow_end   = lj == JW'(BEATS - 1);
            assign loaded     = lfull[cbank];
            assign wram_ready = !lfull[lbank];

            always_ff @(posedge clk) begin
                if (rst) begin
                    lj <= '0; ljb <= '0; lblk <= '0; lp <= '0; lrg <= '0; lwbase <= '0; lsbase <= '0;
                    vcnt <= '0; lfull <= '0; lbank <= 1'b0; cbank <= 1'b0;
                end else begin
                    if (wfire) begin
                        ljb <= (ljb == JBW'(BPB - 1)) ? '0 : ljb + 1'b1;
                        if (ljb == JBW'(BPB - 1)) lblk <= lblk + 1'b1;
                        lj <= lj + 1'b1;
                        if (lrow_end) begin
                            lj   <= '0;
                            lblk <= '0;
                            lp   <= lp + 1'b1;
                            if (lp == PW_'(OUT_PAR - 1)) begin
                                lp     <= '0;
                                lrg    <= lrg + 1'b1;
                                lwbase <= lwbase + WAW'(BEATS);
                                lsbase <= lsbase + SAW'(NB);
                                if (lrg == RW'(NRG - 1)) begin
                                    lrg    <= '0;
                                    lwbase <= '0;
                                    lsbase <= '0;
                                    lbank  <= !lbank;
                                end
                            end
                        end
                    end
                    if (go && last_j && last_rg) begin
                        vcnt <= vcnt + 1'b1;
                        if (vcnt == VW_'(ROWS - 1)) begin
                            vcnt  <= '0;
                            cbank <= !cbank;
                        end
                    end
                    for (int b = 0; b < 2; b++) begin
                        if (wfire && lrow_end && lp == PW_'(OUT_PAR - 1) && lrg == RW'(NRG - 1) && lbank == b[0])
                            lfull[b] <= 1'b1;
                        if (go && last_j && last_rg && vcnt == VW_'(ROWS - 1) && cbank == b[0])
                            lfull[b] <= 1'b0;
                    end
                end
            end

            genvar q;
            for (q = 0; q < OUT_PAR; q++) begin : g_wlane
                logic [IN_PAR*W_WIDTH-1:0] wram [2*NRG*BEATS];
                always_ff @(posedge clk) begin
                    if (wfire && lp == PW_'(q))
                        wram[RAW'(lbank ? NRG * BEATS : 0) + RAW'(lwbase) + RAW'(lj)] <= w_data[IN_PAR*W_WIDTH-1:0];
                    if (go) w1[q*IN_PAR*W_WIDTH +: IN_PAR*W_WIDTH] <= wram[RAW'(cbank ? NRG * BEATS : 0) + RAW'(waddr)];
                end
                if (W_FIXED_SCALE < 0) begin : g_ws
                    logic [7:0] sram [2*NRG*NB];
                    always_ff @(posedge clk) begin
                        if (wfire && lp == PW_'(q) && ljb == '0)
                            sram[RSW'(lbank ? NRG * NB : 0) + RSW'(lsbase) + RSW'(lblk)] <= w_data[IN_PAR*W_WIDTH +: 8];
                        if (go) ws1[q*8 +: 8] <= sram[RSW'(cbank ? NRG * NB : 0) + RSW'(saddr)];
                    end
                end else begin : g_wfix
                    assign ws1[q*8 +: 8] = 8'(W_FIXED_SCALE);
                    if (q == 0) begin : g_unused_s  // the streamed scale byte: constant, not read
                        logic unused_s;
                        assign unused_s = ^w_data[IN_PAR*W_WIDTH +: 8];
                    end
                end
            end
            if (OUT_PAR*(8+IN_PAR*W_WIDTH) > 8+IN_PAR*W_WIDTH) begin : g_unused
                logic unused_hi;
                assign unused_hi = ^w_data[OUT_PAR*(8+IN_PAR*W_WIDTH)-1:8+IN_PAR*W_WIDTH];
            end
        end
    endgenerate

    // ---------------------------------------------------------------- lanes
    // Stages under one enable `ce` (the pipeline moves when the output quantizer takes a sum):
    // 1 operands read (x1, w1: memory outputs), 2 operands registered, 3 products, 4 sums of 4
    // products, 5 block sum S (mx_dot_lane, IN_REG, TREE_REG; SHORT: without 2 and 4), 6-8 alignment of S (mx_align_pipe;
    // its shift is computed from the scales at stage 2 and delayed along), 9 accumulation of the NB
    // terms onto the bias (one adder), then mx_quantize.
    // The MX overhead is paid per block sum, not per lane: a lane has a block sum every BPB beats, so
    // G lanes (the largest divisor of OUT_PAR <= BPB; SHARE = 0: 1) share one aligner, one
    // accumulation adder (their sums rotate through a G-entry register) and one quantizer lane; the
    // G sums of a group enter the aligner one per cycle (S held in the lane, the shift latched).
    // Throughput unchanged (G <= BPB); G = 1 is the lane-parallel datapath.
    localparam int G   = share_group(OUT_PAR, BPB, SHARE);
    localparam int NAL = OUT_PAR / G;                   // aligners / accumulators / quantizer lanes
    localparam int GW  = (G > 1) ? $clog2(G) : 1;
    // SHORT = 1 drops stages 2 and 4 (mx_dot_lane IN_REG 0, TREE_REG 0: the multipliers read the memory
    // outputs, the products' tree and the block sum in one cycle): 2 cycles less, longer paths
    localparam int DLY = (SHORT != 0) ? 2 : 4;  // stages 1 -> 5: the row group's tags travel to the block sums
    logic [DLY:1]              tg_lb;
    logic [RW-1:0]             tg_rg [DLY:1];
    logic [OUT_PAR-1:0]        lane_valid;
    logic signed [S_W-1:0]     s5 [OUT_PAR];
    logic signed [11:0]        sh5 [OUT_PAR];
    logic [NAL*TOT_W-1:0]      sums;
    logic [OUT_PAR*ACC_W-1:0]  bias_q;
    logic                      sum_ready, tfirst, sv9;
    // serial issue of the G block sums of each group into its aligner (stage 5), and their tags
    logic [GW-1:0]             cnt, sel, i6, i7, i8;
    logic                      av5, lb5, v6, v7, v8, lb6, lb7, lb8, lbh;
    logic [RW-1:0]             rg5, rg6, rg7, rgh;
    logic [BKW-1:0]            tg_bk [DLY:1];
    logic [BKW-1:0]            bk5, bk6, bk7, bkh;

    assign ce  = !sv9 || sum_ready;
    assign av5 = lane_valid[0] || cnt != '0;
    assign sel = lane_valid[0] ? '0 : cnt;
    assign lb5 = lane_valid[0] ? tg_lb[DLY] : lbh;
    assign rg5 = lane_valid[0] ? tg_rg[DLY] : rgh;
    assign bk5 = lane_valid[0] ? tg_bk[DLY] : bkh;

    always_ff @(posedge clk) begin
        if (rst) begin
            cnt    <= '0;
            v6     <= 1'b0;
            v7     <= 1'b0;
            v8     <= 1'b0;
            sv9    <= 1'b0;
            tfirst <= 1'b1;
        end else if (ce) begin
            if (lane_valid[0]) cnt <= GW'(G > 1);
            else if (cnt != '0) cnt <= (cnt == GW'(G - 1)) ? '0 : cnt + 1'b1;
            v6  <= av5;
            v7  <= v6;
            v8  <= v7;
            sv9 <= v8 && lb8;
            if (v8 && i8 == GW'(G - 1)) tfirst <= lb8;
        end
        if (ce) begin
            tg_lb[1] <= lb1;
            tg_rg[1] <= rg1;
            tg_bk[1] <= bk1;
            for (int i = 2; i <= DLY; i++) begin
                tg_lb[i] <= tg_lb[i-1];
                tg_rg[i] <= tg_rg[i-1];
                tg_bk[i] <= tg_bk[i-1];
            end
            if (lane_valid[0]) begin
                lbh <= tg_lb[DLY];
                rgh <= tg_rg[DLY];
                bkh <= tg_bk[DLY];
            end
            i6  <= sel;
            i7  <= i6;
            i8  <= i7;
            lb6 <= lb5;
            lb7 <= lb6;
            lb8 <= lb7;
            rg6 <= rg5;
            rg7 <= rg6;
            bk6 <= bk5;
            bk7 <= bk6;
        end
    end

    generate
        if (HAS_BIAS != 0) begin : g_bias
            logic [OUT_PAR*ACC_W-1:0] bmem [B_BANKS*NRG];
`ifdef YOSYS
            initial if (B_FILE != "") $readmemh(B_FILE, bmem);  // Yosys reads the default too
`else
            initial $readmemh(B_FILE, bmem);
`endif
            logic [BAW-1:0] baddr;
            logic [31:0]    bk7w, rg7w;  // sized casts: Yosys 0.23 has no int'()
            assign bk7w  = 32'(bk7);
            assign rg7w  = 32'(rg7);
            assign baddr = BAW'(bk7w * NRG + rg7w);
            always_ff @(posedge clk) if (ce) bias_q <= bmem[baddr];
        end else begin : g_nobias
            assign bias_q = '0;
            logic unused_rg;
            assign unused_rg = ^{rg7, bk7};
        end
    endgenerate

    genvar p;
    generate
        for (p = 0; p < OUT_PAR; p++) begin : g_lane
            logic signed [11:0] shq [DLY-1];  // the scale bytes' sum, stages 2 .. 4 (SHORT: 2), then sh5

            mx_dot_lane #(.PAR(IN_PAR), .A_WIDTH(X_WIDTH), .A_EBITS(X_EBITS), .B_WIDTH(W_WIDTH),
                          .B_EBITS(W_EBITS), .SUM_W(S_W), .TREE_REG(SHORT == 0 ? 1 : 0), .IN_REG(SHORT == 0 ? 1 : 0),
                          .DSP_PACK(DSP_PACK)) lane (
                .clk, .rst, .ce, .in_valid(v1), .in_last(lib1), .in_a(x1),
                .in_b(w1[p*IN_PAR*W_WIDTH +: IN_PAR*W_WIDTH]), .out_valid(lane_valid[p]), .out_sum(s5[p]));

            always_ff @(posedge clk) begin
                if (ce) begin
                    // the scale bytes' sum; the constant SHIFT0 is the aligner's SH_OFF (its compares)
                    shq[0] <= 12'({4'd0, (X_FIXED_SCALE < 0) ? xs1 : 8'(X_FIXED_SCALE)}) + 12'({4'd0, ws1[p*8 +: 8]});
                    for (int i = 1; i < DLY - 1; i++) shq[i] <= shq[i-1];
                    sh5[p] <= shq[DLY-2];
                end
            end
        end

        for (p = 0; p < NAL; p++) begin : g_acc
            // group p: lanes p*G .. p*G+G-1; the entry for lane p*G+i8 is at acc[0] when its term arrives
            logic signed [S_W-1:0]   s_in;
            logic signed [11:0]      sh_in;
            logic signed [ACC_W-1:0] term8;
            logic signed [TOT_W-1:0] acc [G];
            logic signed [TOT_W-1:0] tsum;
            logic signed [ACC_W-1:0] bsel;

            if (G == 1) begin : g_one
                assign s_in  = s5[p];
                assign sh_in = sh5[p];
                assign bsel  = $signed(bias_q[p*ACC_W +: ACC_W]);
            end else begin : g_ser
                logic signed [11:0] shh [G];  // the group's shifts, latched with the block sums
                always_ff @(posedge clk) if (ce && lane_valid[0]) for (int i = 0; i < G; i++) shh[i] <= sh5[p*G + i];
                assign s_in  = s5[p*G + 32'(sel)];
                assign sh_in = lane_valid[0] ? sh5[p*G] : shh[sel];
                assign bsel  = $signed(bias_q[(p*G + 32'(i8))*ACC_W +: ACC_W]);
            end
            mx_align_pipe #(.IN_W(S_W), .SH_W(12), .OUT_W(ACC_W), .SH_OFF(SHIFT0)) al (.clk, .ce, .in(s_in), .shift(sh_in), .out(term8));

            assign tsum = (tfirst ? TOT_W'(bsel) : acc[0]) + TOT_W'(term8);
            always_ff @(posedge clk) begin
                if (ce && v8) begin
                    for (int i = 0; i < G - 1; i++) acc[i] <= acc[i+1];
                    acc[G-1] <= tsum;
                end
            end
            // read by the quantizer while sv9 (ce holds it): lane p*G+i of the finished row group
            assign sums[p*TOT_W +: TOT_W] = acc[G-1];
        end
    endgenerate

    // ---------------------------------------------------------------- output re-quantization
    // NAL quantizer lanes: beat i of a row group holds lanes p*G+i (p < NAL); a block is still the
    // K_OUT consecutive outputs, so the scale is the same, and G beats make one output beat.
    generate
        if (G == 1) begin : g_qpar
            mx_quantize #(.PAR(OUT_PAR), .K(K_OUT), .IN_W(TOT_W), .IN_LSB(ACC_LSB), .WIDTH(O_WIDTH),
                          .EBITS(O_EBITS), .FIXED_SCALE(O_FIXED_SCALE), .SHORT(SHORT)) quant (
                .clk, .rst, .in_data(sums), .in_valid(sv9), .in_ready(sum_ready), .out_data, .out_valid,
                .out_ready);
        end else begin : g_qser
            logic [8+NAL*O_WIDTH-1:0] q_data;
            logic                     q_valid, q_ready, ofull;
            logic [GW-1:0]            ocnt;
            logic [OUT_PAR*O_WIDTH-1:0] obuf;
            logic [7:0]               oscale;
            mx_quantize #(.PAR(NAL), .K(K_OUT), .IN_W(TOT_W), .IN_LSB(ACC_LSB), .WIDTH(O_WIDTH),
                          .EBITS(O_EBITS), .FIXED_SCALE(O_FIXED_SCALE), .SHORT(SHORT)) quant (
                .clk, .rst, .in_data(sums), .in_valid(sv9), .in_ready(sum_ready), .out_data(q_data),
                .out_valid(q_valid), .out_ready(q_ready));
            assign q_ready   = !ofull || out_ready;
            assign out_valid = ofull;
            assign out_data  = {oscale, obuf};
            always_ff @(posedge clk) begin
                if (rst) begin
                    ocnt  <= '0;
                    ofull <= 1'b0;
                end else begin
                    if (out_ready) ofull <= 1'b0;
                    if (q_valid && q_ready) begin
                        ocnt <= (ocnt == GW'(G - 1)) ? '0 : ocnt + 1'b1;
                        if (ocnt == GW'(G - 1)) ofull <= 1'b1;
                    end
                end
                if (q_valid && q_ready) begin
                    for (int i = 0; i < NAL; i++) obuf[(i*G + 32'(ocnt))*O_WIDTH +: O_WIDTH] <= q_data[i*O_WIDTH +: O_WIDTH];
                    oscale <= q_data[NAL*O_WIDTH +: 8];
                end
            end
        end
    endgenerate

    logic unused;
    assign unused = ^{lane_valid[OUT_PAR-1:0]};
endmodule
