// Softmax over rows of N scores with causal masking, LANES per beat, bit-exact with
// mase.golden.nonlinear.softmax_int (+ causal_mask).
//   in_data  = {pos[POS_W-1:0], LANES x IN_W scores (signed, Q.IN_F)}; pos is taken from a row's first
//              beat: element j of the row is kept iff j <= pos (masked elements give 0)
//   out_data = LANES x (OUT_F + 1) probabilities (unsigned, Q.OUT_F)
// Four row buffers rotate through four states: FREE -> (input: write, running max of the kept
// elements) FILLED -> (sum engine: e = exp(x - max), S = sum e) QUEUED -> (reciprocal
// floor(2**(16 + R_F) / S) RECIP_BITS bits a cycle, ceil((R_F + 1) / RECIP_BITS) + 2 cycles) READY -> (output engine: e recomputed,
// y = round(e * recip / 2**(16 + R_F - OUT_F))) FREE. Input, sum and output each move one beat per
// cycle on different rows. Pipelined: input (kept flags | running max | the row's max), sum engine (read | exp, 8
// stages | lane sum | accumulate), output engine (read | exp, 8 | e * recip, 3 | round), every output
// register enabled by ce = !out_valid || out_ready; the core sustains one beat per cycle when
// N / LANES >= R_F + 14 (about; the test checks N = 48, R_F = 20).
// LOG2E_Q: the exp unit's multiplier round(c log2(e) 2**14), computing exp(c (x - max)); c folds the part
// of the attention scaling 1/sqrt(head_dim) that a shift cannot do (mase.golden.nonlinear.split_scaling).
module mx_softmax #(
    parameter int LANES   = 1,
    parameter int N       = 64,
    parameter int POS_W   = 16,
    parameter int IN_W    = 20,
    parameter int IN_F    = 10,
    parameter int OUT_F   = 16,
    parameter int R_F     = 20,
    parameter int RECIP_BITS = 1,  // quotient bits a cycle of the reciprocal units (mx_recip_serial BITS)
    parameter int LOG2E_Q = 23637
) (
    input  logic                         clk,
    input  logic                         rst,
    input  logic [POS_W+LANES*IN_W-1:0]  in_data,
    input  logic                         in_valid,
    output logic                         in_ready,
    output logic [LANES*(OUT_F+1)-1:0]   out_data,
    output logic                         out_valid,
    input  logic                         out_ready
);
    localparam int NB = N / LANES;
    localparam int AW = (NB > 1) ? $clog2(NB) : 1;
    localparam int BW = $clog2(4 * NB);  // row buffer address: bank * NB + beat
    localparam int OW = OUT_F + 1;
    localparam int SW = 17 + $clog2(N + 1);
    localparam int QB = R_F + 1;
    localparam logic [1:0] FREE = 2'd0, FILLED = 2'd1, QUEUED = 2'd2, READY = 2'd3;
    localparam logic signed [IN_W-1:0] NEG = {1'b1, {(IN_W - 1){1'b0}}};

    function automatic logic [BW-1:0] addr(input logic [1:0] bank, input logic [AW-1:0] beat);
        addr = BW'(bank) * BW'(NB) + BW'(beat);
    endfunction
    function automatic logic [1:0] next(input logic [1:0] bank);
        next = bank + 2'd1;
    endfunction

    logic [LANES*IN_W-1:0]  mem [4*NB];
    logic [1:0]             bstate [4];
    logic [POS_W-1:0]       pos_q [4];
    logic signed [IN_W-1:0] max_q [4];
    logic [QB-1:0]          recip_q [4];
    logic [SW-1:0]          sum_q [4];
    logic [3:0]             req;

    // ------------------------------------------------------------------ input
    logic [1:0]             wb, i_bank;
    logic [AW-1:0]          wa;
    logic [POS_W-1:0]       pos_in, pos_row;
    // the running max in offset binary (sign bit flipped: signed order = unsigned order, NEG = 0), so
    // that its compare is a plain carry chain
    logic        [IN_W-1:0] max_acc, max_beat, max_row, max_fin;
    logic                   w_first, w_last, accept, i_v, i_last, i2_last;
    logic [1:0]             i2_bank;
    logic [LANES-1:0]       kept0;
    logic [LANES*IN_W-1:0]  i_m;  // the beat's elements in offset binary, a masked one 0 (NEG: ignored)

    assign w_first  = wa == '0;
    assign w_last   = wa == AW'(NB - 1);
    assign in_ready = bstate[wb] == FREE;
    assign accept   = in_valid && in_ready;
    assign pos_in   = in_data[LANES*IN_W +: POS_W];
    assign pos_row  = w_first ? pos_in : pos_q[wb];

    // element j = wa LANES + l is kept iff j <= pos: for the row's first beat from pos_in (l <= pos), for
    // the others from kn, the flags of the next beat compared when the previous beat was taken (the
    // compare is not in front of the masking of the beat)
    logic [LANES-1:0] kn;
    always_comb begin
        for (int l = 0; l < LANES; l++) kept0[l] = w_first ? (32'(l) <= 32'(pos_in)) : kn[l];
    end
    // the running max one cycle after the beat is taken (i_*)
    always_comb begin
        max_beat = i_m[IN_W-1:0];  // masked: NEG, never above another element (or the same max)
        for (int l = 1; l < LANES; l++) begin
            logic [IN_W-1:0] x;
            x = i_m[l*IN_W +: IN_W];
            if (x > max_beat) max_beat = x;
        end
    end
    assign max_row = (max_beat > max_acc) ? max_beat : max_acc;  // max_acc is NEG at a row's start

    always_ff @(posedge clk) begin
        if (rst) begin
            wb      <= 2'd0;
            wa      <= '0;
            i_v     <= 1'b0;
            max_acc <= '0;  // NEG
        end else begin
            i_v <= accept;
            if (i_v) max_acc <= i_last ? '0 : max_row;  // the loop: one compare and a select
            if (accept) begin
                for (int l = 0; l < LANES; l++) kn[l] <= ((32'(wa) + 1) * LANES + l) <= 32'(pos_row);
                mem[addr(wb, wa)] <= in_data[LANES*IN_W-1:0];
                if (w_first) pos_q[wb] <= pos_in;
                if (w_last) begin
                    wa <= '0;
                    wb <= next(wb);
                end else begin
                    wa <= wa + 1'b1;
                end
            end
        end
        for (int l = 0; l < LANES; l++) i_m[l*IN_W +: IN_W] <= kept0[l] ? in_data[l*IN_W +: IN_W] ^ NEG : '0;
        i_last  <= w_last;
        i_bank  <= wb;
        if (i_v && i_last) max_fin <= max_row;
        // the row's max into its bank (and the bank FILLED) one cycle later, from max_fin
        i2_last <= i_v && i_last;
        i2_bank <= i_bank;
        if (i2_last) max_q[i2_bank] <= $signed(max_fin ^ NEG);
    end

    // ------------------------------------------------------------------ sum engine (no back-pressure)
    localparam int EL = 8;       // mx_softmax_exp
    localparam int SL = EL + 2;  // issue .. the lane sum register
    logic [1:0]             sb, s_bank [SL];
    logic [AW-1:0]          sa, s_ja;
    logic                   s_issue, s_last;
    logic [SL-1:0]          s_v, s_first, s_lst;
    logic [LANES*IN_W-1:0]  s_xa;
    logic signed [IN_W-1:0] s_max_a;
    logic [POS_W-1:0]       s_pos_a;
    logic [LANES*17-1:0]    s_e;
    logic [SW-1:0]          s_acc, s_beat, s_total;

    assign s_issue = bstate[sb] == FILLED;
    assign s_last  = sa == AW'(NB - 1);

    always_ff @(posedge clk) begin
        if (rst) begin
            sb  <= 2'd0;
            sa  <= '0;
            s_v <= '0;
        end else begin
            s_v <= {s_v[SL-2:0], s_issue};
            if (s_issue) begin
                sa <= s_last ? '0 : sa + 1'b1;
                if (s_last) sb <= next(sb);
            end
        end
    end
    always_ff @(posedge clk) begin
        if (s_issue) begin
            s_xa    <= mem[addr(sb, sa)];
            s_ja    <= sa;
            s_max_a <= max_q[sb];
            s_pos_a <= pos_q[sb];
        end
        s_first   <= {s_first[SL-2:0], sa == '0};
        s_lst     <= {s_lst[SL-2:0], s_last};
        s_bank[0] <= sb;
        for (int i = 1; i < SL; i++) s_bank[i] <= s_bank[i-1];
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_sum_lane
            logic signed [IN_W-1:0] x;
            logic                   kept;
            assign x    = s_xa[l*IN_W +: IN_W];
            assign kept = (32'(s_ja) * LANES + l) <= 32'(s_pos_a);
            mx_softmax_exp #(.IN_W(IN_W), .IN_F(IN_F), .LOG2E_Q(LOG2E_Q)) ex (.clk, .ce(1'b1), .in_x(x),
                .in_max(s_max_a), .in_kept(kept), .out_e(s_e[l*17 +: 17]));
        end
    endgenerate

    logic [SW-1:0] s_lsum;
    always_comb begin
        s_lsum = '0;
        for (int i = 0; i < LANES; i++) s_lsum = s_lsum + SW'(s_e[i*17 +: 17]);
    end
    always_ff @(posedge clk) s_beat <= s_lsum;
    assign s_total = (s_first[SL-1] ? '0 : s_acc) + s_beat;
    always_ff @(posedge clk) if (s_v[SL-1]) s_acc <= s_total;

    // ------------------------------------------------------------------ reciprocals: two units, one
    // quotient bit a cycle each (a short loop: one subtraction), unit u for the banks u and u + 2 in order
    logic [1:0]    db [2];
    logic [1:0]    dv_start, dv_busy, dv_done;
    logic [QB-1:0] dv_q [2];
    generate
        for (genvar u = 0; u < 2; u++) begin : g_div
            assign dv_start[u] = !dv_busy[u] && !dv_done[u] && req[db[u]];
            mx_recip_serial #(.SW(SW), .QB(QB), .NUM_EXP(16 + R_F), .BITS(RECIP_BITS)) div (.clk, .rst, .start(dv_start[u]),
                .in_s(sum_q[db[u]]), .busy(dv_busy[u]), .done(dv_done[u]), .out_q(dv_q[u]));
        end
    endgenerate

    // ------------------------------------------------------------------ output engine
    localparam int OL = 1 + EL + 3 + 1;  // issue .. out_data (exp, mx_mul_pipe, round)
    logic                   ce, o_issue, o_last;
    logic [OL-2:0]          o_v;
    logic [1:0]             ob;
    logic [AW-1:0]          oa, o_ja;
    logic [LANES*IN_W-1:0]  o_xa;
    logic signed [IN_W-1:0] o_max_a;
    logic [POS_W-1:0]       o_pos_a;
    logic [QB-1:0]          o_recip [EL + 1];  // issue .. the product's first stage
    logic [LANES*17-1:0]    o_e;

    assign ce      = !out_valid || out_ready;
    assign o_issue = ce && (bstate[ob] == READY);
    assign o_last  = oa == AW'(NB - 1);

    always_ff @(posedge clk) begin
        if (rst) begin
            ob        <= 2'd0;
            oa        <= '0;
            o_v       <= '0;
            out_valid <= 1'b0;
        end else if (ce) begin
            o_v       <= {o_v[OL-3:0], o_issue};
            out_valid <= o_v[OL-2];
            if (o_issue) begin
                oa <= o_last ? '0 : oa + 1'b1;
                if (o_last) ob <= next(ob);
            end
        end
    end
    always_ff @(posedge clk) begin
        if (o_issue) begin
            o_xa      <= mem[addr(ob, oa)];
            o_ja      <= oa;
            o_max_a   <= max_q[ob];
            o_pos_a   <= pos_q[ob];
            o_recip[0] <= recip_q[ob];
        end
        if (ce) for (int i = 1; i <= EL; i++) o_recip[i] <= o_recip[i-1];
    end

    generate
        for (l = 0; l < LANES; l++) begin : g_out_lane
            logic [17+QB-1:0] prod;
            /* verilator lint_off UNUSEDSIGNAL */  // the product of two non-negative values: sign bits 0
            logic signed [17+QB+1:0] prod_s;
            /* verilator lint_on UNUSEDSIGNAL */
            logic [17+QB:0]   pr;
            /* verilator lint_off UNUSEDSIGNAL */  // y <= 2**OUT_F since e <= S: the high bits are 0
            logic [17+QB:0]   ys;
            /* verilator lint_on UNUSEDSIGNAL */
            logic signed [IN_W-1:0] x;
            logic                   kept;
            assign x    = o_xa[l*IN_W +: IN_W];
            assign kept = (32'(o_ja) * LANES + l) <= 32'(o_pos_a);
            mx_softmax_exp #(.IN_W(IN_W), .IN_F(IN_F), .LOG2E_Q(LOG2E_Q)) ex (.clk, .ce, .in_x(x), .in_max(o_max_a),
                .in_kept(kept), .out_e(o_e[l*17 +: 17]));
            mx_mul_pipe #(.A_W(18), .B_W(QB + 1), .P_W(17 + QB + 2)) m_y (.clk, .ce, .a($signed({1'b0, o_e[l*17 +: 17]})),
                .b($signed({1'b0, o_recip[EL]})), .p(prod_s));
            assign prod = (17+QB)'(unsigned'(prod_s));
            assign pr   = (17+QB+1)'(prod) + ((17+QB+1)'(1) << (16 + R_F - OUT_F - 1));
            assign ys   = pr >> (16 + R_F - OUT_F);
            always_ff @(posedge clk) if (ce) out_data[l*OW +: OW] <= ys[OW-1:0];
        end
    endgenerate

    // ------------------------------------------------------------------ buffer states
    always_ff @(posedge clk) begin
        if (rst) begin
            for (int b = 0; b < 4; b++) bstate[b] <= FREE;
            req <= 4'b0000;
            db[0] <= 2'd0;
            db[1] <= 2'd1;
        end else begin
            if (i2_last) bstate[i2_bank] <= FILLED;
            if (s_issue && s_last) bstate[sb] <= QUEUED;
            if (s_v[SL-1] && s_lst[SL-1]) sum_q[s_bank[SL-1]] <= s_total;
            for (int k = 0; k < 4; k++) begin  // a request per bank: set by its sum, taken by its unit
                if (s_v[SL-1] && s_lst[SL-1] && s_bank[SL-1] == 2'(k)) req[k] <= 1'b1;
                if (dv_start[k % 2] && db[k % 2] == 2'(k)) req[k] <= 1'b0;
            end
            if (dv_done[0]) begin
                recip_q[db[0]] <= dv_q[0];
                bstate[db[0]]  <= READY;
                db[0]          <= db[0] ^ 2'd2;
            end
            if (dv_done[1]) begin
                recip_q[db[1]] <= dv_q[1];
                bstate[db[1]]  <= READY;
                db[1]          <= db[1] ^ 2'd2;
            end
            if (o_issue && o_last) bstate[ob] <= FREE;
        end
    end
endmodule
