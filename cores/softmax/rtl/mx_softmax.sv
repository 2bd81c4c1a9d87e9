// Softmax over rows of N scores with causal masking, LANES per beat, bit-exact with
// mase.golden.nonlinear.softmax_int (+ causal_mask).
//   in_data  = {pos[POS_W-1:0], LANES x IN_W scores (signed, Q.IN_F)}; pos is taken from a row's first
//              beat: element j of the row is kept iff j <= pos (masked elements give 0)
//   out_data = LANES x (OUT_F + 1) probabilities (unsigned, Q.OUT_F)
// Phases per row: input (row buffer write, running max of the kept elements); sum (row read,
// e = exp(x - max) via exp2 table, S = sum e); reciprocal floor(2**(16 + R_F) / S) (bit-serial,
// R_F + 1 cycles); output (row read, e recomputed, y = round(e * recip / 2**(16 + R_F - OUT_F))).
// exp(-u): t = round(u * LOG2E_Q / 2**(IN_F + 14 - 8)), e = EXP2[t mod 256] >> min(t div 256, 17).
// Two row buffers: the next row streams in while this one is processed. Throughput about
// N / (2 N / LANES + R_F + 8) elements per cycle per lane... see README.md.
module mx_softmax #(
    parameter int LANES = 1,
    parameter int N     = 64,
    parameter int POS_W = 16,
    parameter int IN_W  = 20,
    parameter int IN_F  = 10,
    parameter int OUT_F = 16,
    parameter int R_F   = 20
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
    localparam int NB       = N / LANES;
    localparam int AW       = (NB > 1) ? $clog2(NB) : 1;
    localparam int BW       = $clog2(2 * NB);  // row buffer address: bank * NB + beat
    localparam int OW       = OUT_F + 1;
    localparam int SW       = 17 + $clog2(N + 1);
    localparam int QB       = R_F + 1;
    localparam int TS       = IN_F + 14 - 8;           // LOG2E_F - EXP_LUT_BITS = 6
    localparam int LOG2E_Q  = 23637;                   // round(log2(e) * 2**14), nonlinear_tables.LOG2E_Q
    localparam int UW       = IN_W + 1;
    localparam int MW       = UW + 16;
    localparam logic signed [IN_W-1:0] NEG = {1'b1, {(IN_W - 1){1'b0}}};

    // ------------------------------------------------------------------ input phase
    logic [LANES*IN_W-1:0]  mem [2*NB];
    logic                   wb, pb;
    logic [1:0]             full;
    logic [AW-1:0]          wa;
    logic [POS_W-1:0]       pos_in, pos_row, pos_q [2];
    logic signed [IN_W-1:0] max_acc, max_beat, max_row, max_q [2];
    logic                   w_first, w_last, accept, release_bank;

    assign w_first  = wa == '0;
    assign w_last   = wa == AW'(NB - 1);
    assign in_ready = !full[wb];
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
            wb   <= 1'b0;
            wa   <= '0;
            full <= 2'b00;
        end else begin
            if (accept) begin
                mem[(wb ? BW'(NB) : BW'(0)) + BW'(wa)] <= in_data[LANES*IN_W-1:0];
                max_acc       <= max_row;
                if (w_first) pos_q[wb] <= pos_in;
                if (w_last) begin
                    wa        <= '0;
                    wb        <= !wb;
                    full[wb]  <= 1'b1;
                    max_q[wb] <= max_row;
                end else begin
                    wa <= wa + 1'b1;
                end
            end
            if (release_bank) full[pb] <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ processing
    typedef enum logic [2:0] {P_IDLE, P_SUM, P_SUM_DRAIN, P_DIV, P_OUT, P_OUT_DRAIN} pstate_t;
    pstate_t                pstate;
    logic                   ce, adv, issue, out_phase, va, vb, dv_start, dv_busy, dv_done;
    logic [AW-1:0]          ra, ja;
    logic [LANES*IN_W-1:0]  xa;
    logic [LANES*17-1:0]    eb;
    logic [SW-1:0]          s_acc, e_beat;
    logic [QB-1:0]          recip;

    assign ce        = !out_valid || out_ready;
    assign out_phase = (pstate == P_OUT) || (pstate == P_OUT_DRAIN);
    assign adv       = out_phase ? ce : 1'b1;
    assign issue     = adv && ((pstate == P_SUM) || (pstate == P_OUT));
    assign release_bank = (pstate == P_OUT) && issue && (ra == AW'(NB - 1));
    assign dv_start  = (pstate == P_DIV) && !dv_busy && !dv_done;

    always_ff @(posedge clk) begin
        if (rst) begin
            pstate <= P_IDLE;
            pb     <= 1'b0;
            ra     <= '0;
        end else begin
            case (pstate)
                P_IDLE: if (full[pb]) begin
                    pstate <= P_SUM;
                    ra     <= '0;
                end
                P_SUM: begin
                    ra <= (ra == AW'(NB - 1)) ? '0 : ra + 1'b1;
                    if (ra == AW'(NB - 1)) pstate <= P_SUM_DRAIN;
                end
                P_SUM_DRAIN: if (!va && !vb) pstate <= P_DIV;
                P_DIV: if (dv_done) pstate <= P_OUT;
                P_OUT: if (issue) begin
                    ra <= (ra == AW'(NB - 1)) ? '0 : ra + 1'b1;
                    if (ra == AW'(NB - 1)) begin
                        pstate <= P_OUT_DRAIN;
                        pb     <= !pb;
                    end
                end
                default: if (!va && !vb) pstate <= P_IDLE;
            endcase
        end
    end

    // stage A: registered read; stage B: exp; then the sum (sum phase) or the output stage
    always_ff @(posedge clk) begin
        if (rst) begin
            va <= 1'b0;
            vb <= 1'b0;
        end else if (adv) begin
            va <= issue;
            vb <= va;
        end
    end
    always_ff @(posedge clk) begin
        if (issue) begin
            xa <= mem[(pb ? BW'(NB) : BW'(0)) + BW'(ra)];
            ja <= ra;
        end
    end

    // the row's position and max, latched when its processing starts (its bank may refill meanwhile)
    logic [POS_W-1:0]       cur_pos;
    logic signed [IN_W-1:0] cur_max;
    always_ff @(posedge clk) begin
        if (pstate == P_IDLE) begin
            cur_pos <= pos_q[pb];
            cur_max <= max_q[pb];
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [IN_W-1:0] x;
            logic                   kept;
            logic [UW-1:0]          u;
            logic [MW-1:0]          um, t;
            logic [7:0]             r;
            /* verilator lint_off UNUSEDSIGNAL */  // n >= 17 only needs the saturating compare
            logic [MW-9:0]          n;
            /* verilator lint_on UNUSEDSIGNAL */
            logic [4:0]             sh;
            logic [16:0]            lut, e;
            assign x    = $signed(xa[l*IN_W +: IN_W]);
            assign kept = (32'(ja) * LANES + l) <= 32'(cur_pos);
            assign u    = kept ? UW'(UW'(cur_max) - UW'(x)) : '0;
            assign um   = MW'(u) * MW'(LOG2E_Q);
            assign t    = (um + (MW'(1) << (TS - 1))) >> TS;
            assign r    = t[7:0];
            assign n    = t[MW-1:8];
            assign sh   = (n > (MW-8)'(17)) ? 5'd17 : n[4:0];
            mx_exp2_rom rom (.in_addr(r), .out_data(lut));
            assign e    = kept ? (lut >> sh) : 17'd0;
            always_ff @(posedge clk) if (adv) eb[l*17 +: 17] <= e;

            logic [17+QB-1:0]  prod;
            logic [17+QB:0]    pr;
            /* verilator lint_off UNUSEDSIGNAL */  // y <= 2**OUT_F since e <= S: the high bits are 0
            logic [17+QB:0]    ys;
            /* verilator lint_on UNUSEDSIGNAL */
            logic [OW-1:0]     y;
            assign prod = (17+QB)'(eb[l*17 +: 17]) * (17+QB)'(recip);
            assign pr   = (17+QB+1)'(prod) + ((17+QB+1)'(1) << (16 + R_F - OUT_F - 1));
            assign ys   = pr >> (16 + R_F - OUT_F);
            assign y    = ys[OW-1:0];
            always_ff @(posedge clk) if (ce && out_phase) out_data[l*OW +: OW] <= y;
        end
    endgenerate

    always_comb begin
        e_beat = '0;
        for (int i = 0; i < LANES; i++) e_beat = e_beat + SW'(eb[i*17 +: 17]);
    end
    always_ff @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
        end else begin
            if (ce) out_valid <= vb && out_phase;
        end
        if (pstate == P_IDLE) s_acc <= '0;
        else if (!out_phase && vb) s_acc <= s_acc + e_beat;
    end

    mx_recip_serial #(.SW(SW), .QB(QB), .NUM_EXP(16 + R_F)) div (.clk, .rst, .start(dv_start), .in_s(s_acc),
        .busy(dv_busy), .done(dv_done), .out_q(recip));
endmodule
