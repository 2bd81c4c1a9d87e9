// One attention matrix product for all heads: HEADS instances of mx_matmul (C = A B^T per head),
// grouped-query attention by sharing each of the KV_HEADS B operands with HEADS/KV_HEADS heads.
//   a: rows of A token by token, the HEADS head segments of a token one after the other (D/PAR_D
//      beats each); b: B rows, token by token with KV_HEADS segments (B_GROUP_MAJOR = 0, keys) or
//      group by group, N rows each (B_GROUP_MAJOR = 1, V transposed); out: rows of C (N_PAD beats
//      each), token by token, head after head.
// N_PAD > N: each group's B gets N_PAD - N zero rows after its N rows, so that a row of C is whole
// blocks of K_OUT (the zero outputs are the MX padding of the row; a prompt of any length).
// OUT_PAR > 1 (divides K_OUT and N_PAD): out beats carry OUT_PAR elements of one block
// ({scale, OUT_PAR codes}); each head packs its row and queues two rows of beats in a FIFO, so the
// heads keep computing while another head's row leaves: HEADS * N_PAD / OUT_PAR output beats a row
// of A instead of HEADS * N_PAD (the output port stops being the bottleneck when N is long, e.g.
// Q.K^T at 64 tokens). OUT_PAR = 1 is the original core, unchanged.
// CHUNK > 0 (causal prefill, CHUNK divides ROWS): the ROWS rows of A of a prompt are served in
// chunks of CHUNK rows, chunk c by a B that holds the real operand for the first c+1 chunks of B's
// causal axis and zeros beyond it, so chunk c starts as soon as B's chunk c has arrived instead of
// the whole prompt's. B still arrives once (K token by token, or V^T chunk by chunk: for each chunk,
// feature by feature, CHUNK tokens, as a transposer of CHUNK tokens gives it); a buffer of one B keeps
// it and replays the earlier chunks. The causal axis: B's rows (keys, B_GROUP_MAJOR = 0, N = ROWS)
// or D (V^T, B_GROUP_MAJOR = 1, D = ROWS). Row t of C then equals the whole product where row t
// attends only to B's chunks <= t / CHUNK: with CHUNK a multiple of K_OUT (keys) or K (V^T) the
// causal softmax masks every score block beyond the diagonal's chunk, and a probability block of
// zeros adds a zero term (mase/golden/CONTRACT.md), whatever B holds there.
// BANKS > 1 (CHUNK > 0; the KV-cache decode design under layer reuse, hw.fold): the buffer holds BANKS
// B operands, one per decoder layer the reused hardware computes; B deliveries use bank 0, 1, ..,
// BANKS - 1 in turn (one pass each) and the chunk advances after the last bank, so every row of A
// (a token) is served once per bank, each bank replaying its own layer's earlier keys.
// B_PER_GROUP = 1 (CHUNK > 0, keys: B_GROUP_MAJOR = 0; the causal prefill's K cache, hw.attention=causal):
// each of the KV_HEADS groups keeps its own buffer and replays its own keys, zero keys and pad rows to
// its heads, the groups in parallel: a pass takes N x RB beats instead of KV_HEADS x N x RB (the new
// keys still arrive on b one group after the other). The same numbers reach every head.
module mase_attn_matmul #(
    parameter int HEADS         = 4,
    parameter int KV_HEADS      = 2,
    parameter int ROWS          = 8,
    parameter int N             = 8,
    parameter int N_PAD         = 8,
    parameter int D             = 32,
    parameter int K             = 32,
    parameter int K_OUT         = 8,
    parameter int PAR_D         = 1,
    parameter int A_WIDTH       = 4,
    parameter int A_EBITS       = 0,
    parameter int B_WIDTH       = 4,
    parameter int B_EBITS       = 0,
    parameter int O_WIDTH       = 8,
    parameter int O_EBITS       = 0,
    parameter int ACC_LSB       = -20,
    parameter int ACC_W         = 32,
    parameter int B_GROUP_MAJOR = 0,
    parameter int A_FIXED_SCALE = -1,  // fixed8 operands / output: constant scale bytes
    parameter int B_FIXED_SCALE = -1,
    parameter int O_FIXED_SCALE = -1,
    parameter int OUT_PAR       = 1,  // elements per output beat (divides K_OUT and N_PAD)
    parameter int CHUNK         = 0,  // causal chunks of rows of A (0: B of the whole prompt first)
    parameter int BANKS         = 1,  // B buffers served in turn per chunk (CHUNK > 0; hw.fold decode)
    parameter int B_PER_GROUP   = 0,  // 1: a B buffer and replay per KV group, in parallel (CHUNK > 0, keys)
    parameter int SHORT         = 0   // 1: the products' short output quantizer pipeline (mx_quantize SHORT)
) (
    input  logic                       clk,
    input  logic                       rst,
    input  logic [8+PAR_D*A_WIDTH-1:0] a_data,
    input  logic                       a_valid,
    output logic                       a_ready,
    input  logic [8+PAR_D*B_WIDTH-1:0] b_data,
    input  logic                       b_valid,
    output logic                       b_ready,
    output logic [8+OUT_PAR*O_WIDTH-1:0] out_data,
    output logic                       out_valid,
    input  logic                       out_ready
);
    localparam int MW  = 8 + O_WIDTH;            // one head's mx_matmul output beat
    localparam int OW  = 8 + OUT_PAR * O_WIDTH;  // an output beat
    localparam int OB  = N_PAD / OUT_PAR;        // output beats of a head's row
    localparam int BW  = 8 + PAR_D * B_WIDTH;
    localparam int RB  = D / PAR_D;
    localparam int REP = HEADS / KV_HEADS;
    localparam int HW  = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam int GW  = (KV_HEADS > 1) ? $clog2(KV_HEADS) : 1;
    logic [HW-1:0]       a_head, o_head;
    logic [GW-1:0]       b_grp;
    logic [HEADS-1:0]    ha_valid, ha_ready, hb_valid, hb_ready, ho_valid, ho_ready;
    logic [KV_HEADS-1:0] grp_ready;
    logic [HEADS*OW-1:0] ho_data;
    logic [BW-1:0]       bi_data;
    // B as each group's heads see it: the shared stream of group b_grp, or (B_PER_GROUP) the group's own
    logic [KV_HEADS-1:0]    gb_valid;
    logic [KV_HEADS*BW-1:0] gb_data;
    logic                bi_valid, bi_fire, b_pad;
    // narrow counters and a registered padding flag: the B handshake (b_pad -> valid -> fire ->
    // counters) stays a few logic levels deep (92 MHz on the ECP5-85 with 32-bit ints, see the
    // Timing section of cores/README.md)
    localparam int RBW = (RB > 1) ? $clog2(RB) : 1;
    localparam int NW  = (N_PAD > 1) ? $clog2(N_PAD) : 1;
    logic [RBW-1:0] a_beat, b_beat;
    logic [NW-1:0]  b_row, o_beat, row_next;
    logic           pad_next, b_row_step;
    // B rows N..N_PAD-1 of every group are zeros made here (zero codes decode to zero at any scale)
    assign row_next = (b_row == NW'(N_PAD - 1)) ? '0 : b_row + 1'b1;
    assign pad_next = (b_row != NW'(N_PAD - 1)) && ((NW + 1)'(b_row) + 1'b1 >= (NW + 1)'(N));
    logic [BW-1:0] sb_data;
    logic          sb_valid, sb_ready;
    assign bi_data   = b_pad ? '0 : sb_data;
    assign bi_valid  = b_pad || sb_valid;
    assign bi_fire   = bi_valid && grp_ready[b_grp];
    assign a_ready   = ha_ready[a_head];
    assign sb_ready  = !b_pad && grp_ready[b_grp];
    assign out_data  = ho_data[o_head*OW +: OW];
    assign out_valid = ho_valid[o_head];
    for (genvar g = 0; g < KV_HEADS; g++) begin : g_grp
        assign grp_ready[g] = &hb_ready[g*REP +: REP];
    end
    for (genvar h = 0; h < HEADS; h++) begin : g_head
        assign ha_valid[h] = a_valid && (a_head == HW'(h));
        assign hb_valid[h] = gb_valid[h / REP] && grp_ready[h / REP];
        assign ho_ready[h] = out_ready && (o_head == HW'(h));
        logic [MW-1:0] mm_data;
        logic          mm_valid, mm_ready;
        mx_matmul #(.ROWS((CHUNK > 0) ? CHUNK : ROWS), .N(N_PAD), .D(D), .K(K), .K_OUT(K_OUT), .PAR_D(PAR_D), .PAR_N(1),
                    .A_WIDTH(A_WIDTH), .A_EBITS(A_EBITS), .B_WIDTH(B_WIDTH), .B_EBITS(B_EBITS),
                    .O_WIDTH(O_WIDTH), .O_EBITS(O_EBITS), .ACC_LSB(ACC_LSB), .ACC_W(ACC_W),
                    .A_FIXED_SCALE(A_FIXED_SCALE), .B_FIXED_SCALE(B_FIXED_SCALE),
                    .O_FIXED_SCALE(O_FIXED_SCALE), .SHORT(SHORT)) u_mm (
            .clk, .rst, .a_data, .a_valid(ha_valid[h]), .a_ready(ha_ready[h]), .b_data(gb_data[(h / REP)*BW +: BW]),
            .b_valid(hb_valid[h]), .b_ready(hb_ready[h]), .out_data(mm_data), .out_valid(mm_valid),
            .out_ready(mm_ready));
        if (OUT_PAR > 1) begin : g_opack
            // OUT_PAR elements a beat (the scale of the first: a beat never straddles two blocks),
            // then two rows of beats, so that the heads read in turn do not hold up the others
            logic [OW-1:0] pk_data;
            logic          pk_valid, pk_ready;
            mase_width_conv #(.IN_LANES(1), .OUT_LANES(OUT_PAR), .ELEM_W(O_WIDTH), .HAS_SCALE(1)) u_pk (
                .clk, .rst, .in_data(mm_data), .in_valid(mm_valid), .in_ready(mm_ready),
                .out_data(pk_data), .out_valid(pk_valid), .out_ready(pk_ready));
            mx_fifo #(.WIDTH(OW), .DEPTH((2 * OB < 2) ? 2 : (1 << $clog2(2 * OB)))) u_ob (
                .clk, .rst, .in_data(pk_data), .in_valid(pk_valid), .in_ready(pk_ready),
                .out_data(ho_data[h*OW +: OW]), .out_valid(ho_valid[h]), .out_ready(ho_ready[h]));
        end else if (O_FIXED_SCALE >= 0) begin : g_obuf
            // the heads are read in turn; an MX output stage buffers two blocks (mx_quantize), a fixed8
            // one none: this FIFO of the same size keeps each head computing while the others are read
            mx_fifo #(.WIDTH(OW), .DEPTH(1 << $clog2(2 * K_OUT + 2))) u_ob (
                .clk, .rst, .in_data(mm_data), .in_valid(mm_valid), .in_ready(mm_ready),
                .out_data(ho_data[h*OW +: OW]), .out_valid(ho_valid[h]), .out_ready(ho_ready[h]));
        end else begin : g_odirect
            assign ho_data[h*OW +: OW] = mm_data;
            assign ho_valid[h]         = mm_valid;
            assign mm_ready            = ho_ready[h];
        end
    end
    if (B_PER_GROUP != 0) begin : g_per_group
        initial if (CHUNK == 0 || B_GROUP_MAJOR != 0) $fatal(1, "mase_attn_matmul: B_PER_GROUP needs CHUNK > 0 and keys");
        // the shared stream stays idle; b's beats go to group in_grp (RB beats of each group in turn)
        assign sb_data  = '0;
        assign sb_valid = 1'b0;
        /* verilator lint_off UNUSEDSIGNAL */
        logic unused_shared;
        assign unused_shared = ^{bi_data, sb_ready};
        /* verilator lint_on UNUSEDSIGNAL */
        localparam int NCH = ROWS / CHUNK;
        localparam int PB  = N * RB;       // a group's beats of one B (pad rows excluded)
        localparam int SUB = RB * CHUNK;   // a group's beats of one causal chunk
        localparam int MB  = BANKS * PB;
        localparam int PW  = (MB > 1) ? $clog2(MB) : 1;
        localparam int CW  = (NCH > 1) ? $clog2(NCH) : 1;
        localparam int SW  = (SUB > 1) ? $clog2(SUB) : 1;
        logic [GW-1:0]       in_grp;
        logic [RBW-1:0]      in_beat;
        logic [KV_HEADS-1:0] take;
        assign b_ready = take[in_grp];
        always_ff @(posedge clk) begin
            if (rst) begin
                in_grp  <= '0;
                in_beat <= '0;
            end else if (b_valid && b_ready) begin
                in_beat <= (in_beat == RBW'(RB - 1)) ? '0 : in_beat + 1'b1;
                if (in_beat == RBW'(RB - 1)) in_grp <= (in_grp == GW'(KV_HEADS - 1)) ? '0 : in_grp + 1'b1;
            end
        end
        for (genvar q = 0; q < KV_HEADS; q++) begin : g_kv
            // the g_chunk replay below for one group, then its pad rows (as the shared counters)
            logic [BW-1:0] mem [MB];
            logic [BW-1:0] s_rd, s_reg, e_data;
            logic [PW-1:0] fp;
            logic [CW-1:0] fc, fq;
            logic [SW-1:0] fs;
            logic [RBW-1:0] g_beat;
            logic [NW-1:0]  g_row;
            logic           s_valid, s_mem, can, cls_in, cls_rep, issue, in_v, e_ready, g_pad, g_fire;
            assign in_v     = b_valid && (in_grp == GW'(q));
            assign can      = !s_valid || e_ready;
            assign cls_in   = fq == fc;
            assign cls_rep  = fq < fc;
            assign issue    = can && (!cls_in || in_v);
            assign take[q]  = can && cls_in;
            assign e_data   = s_mem ? s_rd : s_reg;
            assign e_ready  = !g_pad && grp_ready[q];
            assign gb_data[q*BW +: BW] = g_pad ? '0 : e_data;
            assign gb_valid[q] = g_pad || s_valid;
            assign g_fire   = gb_valid[q] && grp_ready[q];
            always_ff @(posedge clk) begin
                if (issue && cls_in) mem[fp] <= b_data;
                if (issue && cls_rep) s_rd <= mem[fp];
            end
            always_ff @(posedge clk) begin
                if (rst) begin
                    fp      <= '0;
                    fc      <= '0;
                    fq      <= '0;
                    fs      <= '0;
                    s_valid <= 1'b0;
                    s_mem   <= 1'b0;
                    s_reg   <= '0;
                    g_beat  <= '0;
                    g_row   <= '0;
                    g_pad   <= 1'b0;
                end else begin
                    if (issue) begin
                        s_valid <= 1'b1;
                        s_mem   <= cls_rep;
                        s_reg   <= cls_in ? b_data : '0;
                        fs      <= (fs == SW'(SUB - 1)) ? '0 : fs + 1'b1;
                        if (fs == SW'(SUB - 1)) fq <= (fq == CW'(NCH - 1)) ? '0 : fq + 1'b1;
                        fp <= (fp == PW'(MB - 1)) ? '0 : fp + 1'b1;
                        if (fp == PW'(MB - 1)) fc <= (fc == CW'(NCH - 1)) ? '0 : fc + 1'b1;
                    end else if (e_ready) begin
                        s_valid <= 1'b0;
                    end
                    if (g_fire) begin
                        g_beat <= (g_beat == RBW'(RB - 1)) ? '0 : g_beat + 1'b1;
                        if (g_beat == RBW'(RB - 1)) begin  // a row of the group: rows N..N_PAD-1 are zeros
                            g_row <= (g_row == NW'(N_PAD - 1)) ? '0 : g_row + 1'b1;
                            g_pad <= (g_row != NW'(N_PAD - 1)) && ((NW + 1)'(g_row) + 1'b1 >= (NW + 1)'(N));
                        end
                    end
                end
            end
        end
    end else if (CHUNK > 0) begin : g_chunk
        // B of chunk c, position by position (PB beats, pad rows excluded: they are added below):
        // its causal chunk q < c is replayed from the buffer, q == c comes from b (and is kept),
        // q > c is zeros. Keys: q counts every KV_HEADS * RB * CHUNK beats; V^T: every CHUNK / PAR_D
        // beats of a row, back to 0 at the row's end.
        localparam int NCH = ROWS / CHUNK;
        localparam int PB  = KV_HEADS * N * RB;
        localparam int SUB = (B_GROUP_MAJOR != 0) ? CHUNK / PAR_D : KV_HEADS * RB * CHUNK;
        localparam int MB  = BANKS * PB;  // the buffer: bank b at b x PB (banks in the order they are served)
        localparam int PW  = (MB > 1) ? $clog2(MB) : 1;
        localparam int CW  = (NCH > 1) ? $clog2(NCH) : 1;
        localparam int SW  = (SUB > 1) ? $clog2(SUB) : 1;
        logic [BW-1:0] mem [MB];
        logic [BW-1:0] s_rd, s_reg;
        logic [PW-1:0] fp;
        logic [CW-1:0] fc, fq;
        logic [SW-1:0] fs;
        logic          s_valid, s_mem, can, cls_in, cls_rep, issue;
        assign can      = !s_valid || sb_ready;
        assign cls_in   = fq == fc;
        assign cls_rep  = fq < fc;
        assign issue    = can && (!cls_in || b_valid);
        assign b_ready  = can && cls_in;
        assign sb_valid = s_valid;
        assign sb_data  = s_mem ? s_rd : s_reg;
        always_ff @(posedge clk) begin
            if (issue && cls_in) mem[fp] <= b_data;
            if (issue && cls_rep) s_rd <= mem[fp];
        end
        always_ff @(posedge clk) begin
            if (rst) begin
                fp      <= '0;
                fc      <= '0;
                fq      <= '0;
                fs      <= '0;
                s_valid <= 1'b0;
                s_mem   <= 1'b0;
                s_reg   <= '0;
            end else if (issue) begin
                s_valid <= 1'b1;
                s_mem   <= cls_rep;
                s_reg   <= cls_in ? b_data : '0;
                fs      <= (fs == SW'(SUB - 1)) ? '0 : fs + 1'b1;
                if (fs == SW'(SUB - 1)) fq <= (fq == CW'(NCH - 1)) ? '0 : fq + 1'b1;
                // fp runs through the banks one after the other: the chunk advances after the last
                fp <= (fp == PW'(MB - 1)) ? '0 : fp + 1'b1;
                if (fp == PW'(MB - 1)) fc <= (fc == CW'(NCH - 1)) ? '0 : fc + 1'b1;
            end else if (sb_ready) begin
                s_valid <= 1'b0;
            end
        end
    end else begin : g_whole
        initial if (BANKS != 1) $fatal(1, "mase_attn_matmul: BANKS %0d needs CHUNK > 0", BANKS);
        assign sb_data  = b_data;
        assign sb_valid = b_valid;
        assign b_ready  = sb_ready;
    end
    if (B_PER_GROUP == 0) begin : g_shared_b
        for (genvar q = 0; q < KV_HEADS; q++) begin : g_kv
            assign gb_valid[q] = bi_valid && (b_grp == GW'(q));
            assign gb_data[q*BW +: BW] = bi_data;
        end
    end
    // B order: beat, then group, then row (keys, token-major) or beat, row, group (V^T)
    assign b_row_step = bi_fire && b_beat == RBW'(RB - 1) && (B_GROUP_MAJOR != 0 || b_grp == GW'(KV_HEADS - 1));
    always_ff @(posedge clk) begin
        if (rst) begin
            a_beat <= '0;
            b_beat <= '0;
            b_row  <= '0;
            b_pad  <= 1'b0;
            o_beat <= '0;
            a_head <= '0;
            b_grp  <= '0;
            o_head <= '0;
        end else begin
            if (a_valid && a_ready) begin
                if (a_beat == RBW'(RB - 1)) begin
                    a_beat <= '0;
                    a_head <= (a_head == HW'(HEADS - 1)) ? '0 : a_head + 1'b1;
                end else begin
                    a_beat <= a_beat + 1'b1;
                end
            end
            if (bi_fire) begin
                if (b_beat != RBW'(RB - 1)) begin
                    b_beat <= b_beat + 1'b1;
                end else begin
                    b_beat <= '0;
                    if (B_GROUP_MAJOR == 0) begin
                        b_grp <= (b_grp == GW'(KV_HEADS - 1)) ? '0 : b_grp + 1'b1;
                    end else if (b_row == NW'(N_PAD - 1)) begin
                        b_grp <= (b_grp == GW'(KV_HEADS - 1)) ? '0 : b_grp + 1'b1;
                    end
                end
            end
            if (b_row_step) begin
                b_row <= row_next;
                b_pad <= pad_next;
            end
            if (out_valid && out_ready) begin
                if (o_beat == NW'(OB - 1)) begin
                    o_beat <= '0;
                    o_head <= (o_head == HW'(HEADS - 1)) ? '0 : o_head + 1'b1;
                end else begin
                    o_beat <= o_beat + 1'b1;
                end
            end
        end
    end
endmodule
