// Softmax over rows of N scores with causal masking, LANES per beat, bit-exact with
// mase.golden.nonlinear.softmax_int (+ causal_mask).
//   in_data  = {pos[POS_W-1:0], LANES x IN_W scores (signed, Q.IN_F)}; pos is taken from a row's first
//              beat: element j of the row is kept iff j <= pos (masked elements give 0)
//   out_data = LANES x (OUT_F + 1) probabilities (unsigned, Q.OUT_F)
// Four row buffers rotate through four states: FREE -> (input: write, running max of the kept
// elements) FILLED -> (sum engine: e = exp(x - max), S = sum e) QUEUED -> (bit-serial reciprocal
// floor(2**(16 + R_F) / S), R_F + 1 cycles) READY -> (output engine: e recomputed,
// y = round(e * recip / 2**(16 + R_F - OUT_F))) FREE. Input, sum and output each move one beat per
// cycle on different rows, so the core sustains one beat per cycle when N / LANES >= R_F + 6.
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
    logic [1:0]             wb;
    logic [AW-1:0]          wa;
    logic [POS_W-1:0]       pos_in, pos_row;
    logic signed [IN_W-1:0] max_acc, max_beat, max_row;
    logic                   w_first, w_last, accept;

    assign w_first  = wa == '0;
    assign w_last   = wa == AW'(NB - 1);
    assign in_ready = bstate[wb] == FREE;
    assign accept   = in_valid && in_ready;
    assign pos_in   = in_data[LANES*IN_W +: POS_W];
    assign pos_row  = w_first ? pos_in : pos_q[wb];

    always_comb begin
        max_beat = NEG;
        for (int l = 0; l < LANES; l++) begin
            logic signed [IN_W-1:0] x;
            x = $signed(in_data[l*IN_W +: IN_W]);
            if ((32'(wa) * LANES + l) <= 32'(pos_row) && x > max_beat) max_beat = x;
        end
    end
    assign max_row = (w_first || max_beat > max_acc) ? max_beat : max_acc;

    always_ff @(posedge clk) begin
        if (rst) begin
            wb <= 2'd0;
            wa <= '0;
        end else if (accept) begin
            mem[addr(wb, wa)] <= in_data[LANES*IN_W-1:0];
            max_acc           <= max_row;
            if (w_first) pos_q[wb] <= pos_in;
            if (w_last) begin
                wa        <= '0;
                wb        <= next(wb);
                max_q[wb] <= max_row;
            end else begin
                wa <= wa + 1'b1;
            end
        end
    end

    // ------------------------------------------------------------------ sum engine (no back-pressure)
    logic [1:0]             sb, s_bank_a, s_bank_b;
    logic [AW-1:0]          sa, s_ja;
    logic                   s_issue, s_last, s_va, s_vb, s_first_a, s_last_a, s_first_b, s_last_b;
    logic [LANES*IN_W-1:0]  s_xa;
    logic signed [IN_W-1:0] s_max_a;
    logic [POS_W-1:0]       s_pos_a;
    logic [LANES*17-1:0]    s_e, s_eb;
    logic [SW-1:0]          s_acc, s_beat, s_total;

    assign s_issue = bstate[sb] == FILLED;
    assign s_last  = sa == AW'(NB - 1);

    always_ff @(posedge clk) begin
        if (rst) begin
            sb   <= 2'd0;
            sa   <= '0;
            s_va <= 1'b0;
            s_vb <= 1'b0;
        end else begin
            s_va <= s_issue;
            s_vb <= s_va;
            if (s_issue) begin
                sa <= s_last ? '0 : sa + 1'b1;
                if (s_last) sb <= next(sb);
            end
        end
    end
    always_ff @(posedge clk) begin
        if (s_issue) begin
            s_xa      <= mem[addr(sb, sa)];
            s_ja      <= sa;
            s_bank_a  <= sb;
            s_first_a <= sa == '0;
            s_last_a  <= s_last;
            s_max_a   <= max_q[sb];
            s_pos_a   <= pos_q[sb];
        end
        s_eb      <= s_e;
        s_bank_b  <= s_bank_a;
        s_first_b <= s_first_a;
        s_last_b  <= s_last_a;
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_sum_lane
            logic signed [IN_W-1:0] x;
            logic                   kept;
            assign x    = s_xa[l*IN_W +: IN_W];
            assign kept = (32'(s_ja) * LANES + l) <= 32'(s_pos_a);
            mx_softmax_exp #(.IN_W(IN_W), .IN_F(IN_F), .LOG2E_Q(LOG2E_Q)) ex (.in_x(x), .in_max(s_max_a), .in_kept(kept),
                .out_e(s_e[l*17 +: 17]));
        end
    endgenerate

    always_comb begin
        s_beat = '0;
        for (int i = 0; i < LANES; i++) s_beat = s_beat + SW'(s_eb[i*17 +: 17]);
    end
    assign s_total = (s_first_b ? '0 : s_acc) + s_beat;
    always_ff @(posedge clk) if (s_vb) s_acc <= s_total;

    // ------------------------------------------------------------------ reciprocal, banks in order
    logic [1:0]    db;
    logic          dv_start, dv_busy, dv_done;
    logic [QB-1:0] dv_q;
    assign dv_start = !dv_busy && !dv_done && req[db];
    mx_recip_serial #(.SW(SW), .QB(QB), .NUM_EXP(16 + R_F)) div (.clk, .rst, .start(dv_start), .in_s(sum_q[db]),
        .busy(dv_busy), .done(dv_done), .out_q(dv_q));

    // ------------------------------------------------------------------ output engine
    logic                   ce, o_issue, o_last, o_va, o_vb;
    logic [1:0]             ob;
    logic [AW-1:0]          oa, o_ja;
    logic [LANES*IN_W-1:0]  o_xa;
    logic signed [IN_W-1:0] o_max_a;
    logic [POS_W-1:0]       o_pos_a;
    logic [QB-1:0]          o_recip_a, o_recip_b;
    logic [LANES*17-1:0]    o_e, o_eb;

    assign ce      = !out_valid || out_ready;
    assign o_issue = ce && (bstate[ob] == READY);
    assign o_last  = oa == AW'(NB - 1);

    always_ff @(posedge clk) begin
        if (rst) begin
            ob        <= 2'd0;
            oa        <= '0;
            o_va      <= 1'b0;
            o_vb      <= 1'b0;
            out_valid <= 1'b0;
        end else if (ce) begin
            o_va      <= o_issue;
            o_vb      <= o_va;
            out_valid <= o_vb;
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
            o_recip_a <= recip_q[ob];
        end
        if (ce) begin
            o_eb      <= o_e;
            o_recip_b <= o_recip_a;
        end
    end

    generate
        for (l = 0; l < LANES; l++) begin : g_out_lane
            logic [17+QB-1:0] prod;
            logic [17+QB:0]   pr;
            /* verilator lint_off UNUSEDSIGNAL */  // y <= 2**OUT_F since e <= S: the high bits are 0
            logic [17+QB:0]   ys;
            /* verilator lint_on UNUSEDSIGNAL */
            logic signed [IN_W-1:0] x;
            logic                   kept;
            assign x    = o_xa[l*IN_W +: IN_W];
            assign kept = (32'(o_ja) * LANES + l) <= 32'(o_pos_a);
            mx_softmax_exp #(.IN_W(IN_W), .IN_F(IN_F), .LOG2E_Q(LOG2E_Q)) ex (.in_x(x), .in_max(o_max_a), .in_kept(kept),
                .out_e(o_e[l*17 +: 17]));
            assign prod = (17+QB)'(o_eb[l*17 +: 17]) * (17+QB)'(o_recip_b);
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
            db  <= 2'd0;
        end else begin
            if (accept && w_last) bstate[wb] <= FILLED;
            if (s_issue && s_last) bstate[sb] <= QUEUED;
            if (s_vb && s_last_b) begin
                sum_q[s_bank_b] <= s_total;
                req[s_bank_b]   <= 1'b1;
            end
            if (dv_start) req[db] <= 1'b0;
            if (dv_done) begin
                recip_q[db] <= dv_q;
                bstate[db]  <= READY;
                db          <= next(db);
            end
            if (o_issue && o_last) bstate[ob] <= FREE;
        end
    end
endmodule
