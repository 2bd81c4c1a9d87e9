// Compact off-chip weight stream -> mx_linear's streamed weight words (W_SOURCE 1).
//
// mx_linear takes a weight word {OUT_PAR x scale[7:0], OUT_PAR x IN_PAR x elements} per MAC beat, so
// a block's OUT_PAR scale bytes repeat in each of its K/IN_PAR beats. Off chip that repetition costs
// bus bandwidth (up to 3x the elements' bytes at IN_PAR 1, mxint4), so the memory carries each scale
// once: per row group and input block (GROUPS of them per matrix, row group by row group), its OUT_PAR
// scale bytes (lane 0 first; none when HAS_SCALE = 0, the constant fixed8 scale) then its K/IN_PAR
// element fields of OUT_PAR x IN_PAR x W_WIDTH bits each (mx_linear's element field), a bit stream,
// least significant bit first, cut into IN_BYTES-byte beats (byte 0 in the low bits). A matrix (one
// input vector's weights) ends on a beat: the last beat's bits after the matrix are zero padding.
//
// The gearbox writes each input beat into the next of NS slots of P = 8 x IN_BYTES bits (a ring: no
// insert shifter) and reads a word at the oldest valid bit (a one-hot slot and a one-hot offset in it:
// a window of WS slots, then the fields in the window): at a block's first word its scales (held for
// the block's other words) and its element field, at the matrix's last word also the padding.
// A beat is accepted while a whole slot is free, so ready depends on registers only; one word leaves
// every cycle while the input keeps up (IN_BYTES carries at least a block's bits in its K/IN_PAR
// words, mase.eda.mx_linear.wstream_port_bytes). When a beat is exactly one block's word (K = IN_PAR
// and 8 x IN_BYTES = OUT_PAR x (8 + IN_PAR x W_WIDTH)) or exactly the element
// field (HAS_SCALE = 0), the module is wires only.
module mx_wstream_unpack #(
    parameter int OUT_PAR   = 1,
    parameter int IN_PAR    = 2,
    parameter int W_WIDTH   = 4,
    parameter int K         = 32,
    parameter int HAS_SCALE = 1,
    parameter int GROUPS    = 1,   // (OUT_FEATURES / OUT_PAR) x (IN_FEATURES / K) blocks per matrix
    parameter int IN_BYTES  = 2
) (
    input  logic                                  clk,
    input  logic                                  rst,
    input  logic [8*IN_BYTES-1:0]                 in_data,
    input  logic                                  in_valid,
    output logic                                  in_ready,
    output logic [OUT_PAR*(8+IN_PAR*W_WIDTH)-1:0] out_data,
    output logic                                  out_valid,
    input  logic                                  out_ready
);
    localparam int E   = OUT_PAR * IN_PAR * W_WIDTH;  // element bits of a word
    localparam int S   = HAS_SCALE != 0 ? OUT_PAR * 8 : 0;  // scale bits of a block
    localparam int BPB = K / IN_PAR;  // words per block
    localparam int P   = 8 * IN_BYTES;
    localparam int G   = S + BPB * E;  // bits of a block (a whole number of bytes: K is a multiple of 8)
    // zero bits after a matrix up to its last beat (the matrix's bits modulo P, without overflow)
    localparam int PAD = (P - ((GROUPS % P) * (G % P)) % P) % P;
    // every amount (P, S, E, G, PAD) is a multiple of U bits: the read position moves in U-bit steps
    localparam int U   = (E % 8 == 0) ? 8 : (E % 4 == 0) ? 4 : (E % 2 == 0) ? 2 : 1;
    localparam int TMAX = S + E + PAD;  // the largest take: a block's first word, the matrix's last
    // slots of P bits: two beats more than the largest take keep a word leaving every cycle while the
    // input keeps up (checked by a cycle model over OUT_PAR, IN_PAR, W_WIDTH, K, GROUPS; one fewer stalls)
    localparam int NS  = 2 + (TMAX + P - 1) / P;
    localparam int CAP = NS * P;
    localparam int CU  = CAP / U;  // capacity in U-bit units
    localparam int Q   = P / U;    // units a slot
    localparam int WS  = (P - U + S + E + P - 1) / P;  // slots a word's fields span from an offset in a slot
    localparam int SW  = NS > 1 ? $clog2(NS) : 1;
    localparam int NW  = $clog2(CU + 1);
    localparam int GW  = $clog2(GROUPS + 1);
    localparam int BW  = $clog2(BPB + 1);

`ifndef YOSYS  // Yosys elaborates a top's parameters one at a time (chparam), and a partial set may fail these
    initial begin
        if (K % IN_PAR != 0 || K % 8 != 0) $fatal(1, "mx_wstream_unpack: IN_PAR must divide K, K a multiple of 8");
        if (P * BPB < G) $fatal(1, "mx_wstream_unpack: IN_BYTES=%0d beats are slower than the words (%0d bits a block)", IN_BYTES, G);
    end
`endif

    if ((BPB == 1 && P == G) || (S == 0 && P == E)) begin : g_wires  // a beat is a word: reorder only
        logic [S > 0 ? S-1 : 0:0] scales;
        if (S > 0) begin : g_s
            assign scales = in_data[S-1:0];
        end else begin : g_ns
            assign scales = '0;
        end
        assign out_data  = {(OUT_PAR*8)'(scales), in_data[P-1 -: E]};
        assign out_valid = in_valid;
        assign in_ready  = out_ready;
        /* verilator lint_off UNUSEDSIGNAL */
        logic unused;
        assign unused = ^{clk, rst, scales};
        /* verilator lint_on UNUSEDSIGNAL */
    end else begin : g_gearbox
        // NS slots of P bits, written in turn (a beat lands in a whole free slot: no insert shifter);
        // the valid bits are the `nb` units from unit `rp` on, circularly; a word is read at rp
        logic [CAP-1:0] sr;
        logic [NW-1:0]  nb;      // valid units
        logic [SW-1:0]  ws;      // slot the next beat fills
        logic [OUT_PAR*8-1:0] hold;  // the block's scales, for its words after the first
        logic [BW-1:0]  beat;    // word of the block
        logic [GW-1:0]  grp;     // block of the matrix
        // first / last / take of the next word, registered (from beat and grp's next values): the nb
        // update (valid units) is then one compare and add, not the block counters' compares too
        logic           grp_last;  // grp == GROUPS - 1
        logic           first, last;
        logic [NW-1:0]  take;    // units the next word consumes
        logic [OUT_PAR*8-1:0] scales;
        logic [E-1:0]   elems;

        function automatic [NW-1:0] take_of(input f, input l);  // Yosys 0.23: no `return`
            take_of = NW'(E / U) + (f ? NW'(S / U) : '0) + (l ? NW'(PAD / U) : '0);
        endfunction
        assign out_valid = nb >= take;
        assign in_ready  = nb <= NW'(CU - P / U);
        // The read position as a one-hot slot `rs` and a one-hot unit offset in it `ro`: a window of WS
        // slots from rs (an NS:1 multiplexer per window slot), then the fields at the offset (a Q:1
        // multiplexer): two small one-hot AND-OR levels instead of one over the ring's CU positions.
        logic [NS-1:0]     rs, rs_next;
        logic [Q-1:0]      ro, ro_next;
        logic [Q+S/U-1:0]  oe;   // the element field's offset: past the scales at a block's first word
        logic [WS*P-1:0]   win;
        assign oe = (S > 0 && first) ? (Q+S/U)'(ro) << (S / U) : (Q+S/U)'(ro);
        always_comb begin
            win = '0;
            for (int j = 0; j < NS; j++)
                for (int w = 0; w < WS; w++)
                    win[w*P +: P] = win[w*P +: P] | ({P{rs[j]}} & sr[((j + w) % NS)*P +: P]);
        end
        always_comb begin
            elems = '0;
            for (int o = 0; o < Q + S / U; o++) elems = elems | ({E{oe[o]}} & win[o*U +: E]);
        end
        if (S > 0) begin : g_s
            logic [S-1:0] head;
            always_comb begin
                head = '0;
                for (int o = 0; o < Q; o++) head = head | ({S{ro[o]}} & win[o*U +: S]);
            end
            assign scales = first ? (OUT_PAR*8)'(head) : hold;
        end else begin : g_ns
            assign scales = '0;
            /* verilator lint_off UNUSEDSIGNAL */
            logic unused_hold;
            assign unused_hold = ^hold;
            /* verilator lint_on UNUSEDSIGNAL */
        end
        // the next read position for each of the four takes (a middle word, a block's first, the
        // matrix's last, both): offset o + take units moves (o + take) / Q slots on
        logic [NS-1:0] rs_t [4];
        logic [Q-1:0]  ro_t [4];
        for (genvar c = 0; c < 4; c++) begin : g_take
            localparam int T = (E + ((c % 2) == 1 ? S : 0) + (c >= 2 ? PAD : 0)) / U;
            always_comb begin
                rs_t[c] = '0;
                ro_t[c] = '0;
                for (int o = 0; o < Q; o++) begin
                    ro_t[c][(o + T) % Q] = ro_t[c][(o + T) % Q] | ro[o];
                    for (int j = 0; j < NS; j++)
                        rs_t[c][(j + (o + T) / Q) % NS] = rs_t[c][(j + (o + T) / Q) % NS] | (ro[o] & rs[j]);
                end
            end
        end
        assign rs_next = rs_t[{last, S > 0 && first}];
        assign ro_next = ro_t[{last, S > 0 && first}];
        assign out_data = {scales, elems};

        always_ff @(posedge clk) begin
            if (rst) begin
                nb   <= '0;
                rs   <= NS'(1);
                ro   <= Q'(1);
                ws   <= '0;
                hold <= '0;
                beat <= '0;
                grp  <= '0;
                grp_last <= GROUPS == 1;
                first <= 1'b1;
                last  <= BPB == 1 && GROUPS == 1;
                take  <= take_of(1'b1, BPB == 1 && GROUPS == 1);
            end else begin
                logic [NW-1:0] left;
                left = nb;
                if (out_valid && out_ready) begin
                    left = nb - take;
                    rs <= rs_next;
                    ro <= ro_next;
                    hold <= scales;
                    begin
                        logic wrap, gl_n, l_n;
                        wrap = beat == BW'(BPB - 1);
                        gl_n = wrap ? (GROUPS == 1 || grp == GW'(GROUPS - 2)) : grp_last;
                        l_n  = (BPB == 1) ? gl_n : (beat == BW'(BPB - 2) && grp_last);
                        first <= wrap;
                        last  <= l_n;
                        take  <= take_of(wrap, l_n);
                    end
                    if (beat == BW'(BPB - 1)) begin
                        beat <= '0;
                        grp  <= grp_last ? '0 : grp + 1'b1;
                        grp_last <= GROUPS == 1 || grp == GW'(GROUPS - 2);  // the next block is the last
                    end else begin
                        beat <= beat + 1'b1;
                    end
                end
                if (in_valid && in_ready) begin
                    left = left + NW'(P / U);
                    ws <= (ws == SW'(NS - 1)) ? '0 : ws + 1'b1;
                end
                nb <= left;
            end
        end
        for (genvar i = 0; i < NS; i++) begin : g_slot
            always_ff @(posedge clk) if (in_valid && in_ready && ws == SW'(i)) sr[i*P +: P] <= in_data;
        end
    end
endmodule
