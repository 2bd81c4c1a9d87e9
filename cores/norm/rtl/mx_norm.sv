// Row normalisation engine of mx_rmsnorm (SUB_MEAN = 0) and mx_layernorm (SUB_MEAN = 1), bit-exact
// with mase.golden.nonlinear.norm_int. Rows of N elements arrive as N/LANES beats on `in`; the learned
// scale (and bias) arrive on `w`, one beat per output beat, in the same order.
//   in_data  = LANES x IN_W (x; its fraction bits only enter EPS_CODE)         w_data = {LANES x OUT_W bias (SUB_MEAN only), LANES x G_W scale}
//   out_data = LANES x OUT_W (y, Q.OUT_F)
// Input phase: the row is written into one of two row buffers while s1 = sum x and
// s2 = sum round(x^2 / 2**P) accumulate. At the row's end mx_rsqrt_serial computes r, k of
// V = N s2 (- h^2) + EPS_CODE (RB + 3 cycles). Output phase: the buffered row is read back,
//   c = N x (- s1); t = sat(round(c r / 2**(K + k + P/2 - T_F))); y = sat(round(t g / 2**(T_F + G_F - OUT_F)) + b).
// Three row buffers: rows stream in while earlier ones wait for their scalar or stream out; one beat
// per cycle when N/LANES >= RB + 8. Latency: 3 cycles after the row's scalar is ready.
module mx_norm #(
    parameter int SUB_MEAN = 0,
    parameter int LANES    = 1,
    parameter int N        = 576,
    parameter int IN_W     = 32,
    parameter int G_W      = 16,
    parameter int G_F      = 14,
    parameter int OUT_W    = 24,
    parameter int OUT_F    = 16,
    parameter int EPS_CODE = 1,
    parameter int P        = 16,
    parameter int M        = 16,
    parameter int K        = 24,
    parameter int T_F      = 16,
    parameter int W_W      = LANES * (G_W + (SUB_MEAN != 0 ? OUT_W : 0))
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [LANES*IN_W-1:0]  in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    input  logic [W_W-1:0]         w_data,
    input  logic                   w_valid,
    output logic                   w_ready,
    output logic [LANES*OUT_W-1:0] out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    localparam int NB   = N / LANES;
    localparam int AW   = (NB > 1) ? $clog2(NB) : 1;
    localparam int BW   = $clog2(3 * NB);  // row buffer address: bank * NB + beat
    localparam int LGN  = $clog2(N + 1);
    localparam int S1W  = IN_W + LGN + 1;
    localparam int SQW  = 2 * IN_W - P;
    localparam int S2W  = SQW + LGN + 1;
    localparam int RB   = K - M / 2 + 2;
    localparam int CWD  = IN_W + LGN + 2;
    localparam int PWD  = CWD + RB + 2;
    localparam int TW   = T_F + (LGN + 1) / 2 + 2;
    localparam int QW   = TW + G_W + 1;
    localparam logic [63:0] VMAX  = 64'h3FFF_FFFF_FFFF_FFFF;
    localparam logic [63:0] S2MAX = (VMAX - 64'(EPS_CODE)) / 64'(N);
    localparam logic [31:0] HMAX  = 32'h7FFF_FFFF;

    // ------------------------------------------------------------------ input phase
    logic [LANES*IN_W-1:0] mem [3*NB];
    logic [1:0]            wb, rb, sc_bank;
    logic [2:0]            full, ready_q;
    logic [AW-1:0]         wa, ra;
    logic signed [S1W-1:0] s1_acc, s1_beat, s1_row;
    logic [S2W-1:0]        s2_acc, s2_beat, s2_row;
    logic signed [S1W-1:0] s1_q [3];
    logic                  w_last, accept, sc_busy, sc_done;
    logic [RB-1:0]         sc_r, r_q [3];
    logic signed [7:0]     sc_k;
    logic [6:0]            sh_q [3];

    function automatic logic [BW-1:0] addr(input logic [1:0] bank, input logic [AW-1:0] beat);
        addr = BW'(bank) * BW'(NB) + BW'(beat);
    endfunction
    function automatic logic [1:0] next(input logic [1:0] bank);
        next = (bank == 2'd2) ? 2'd0 : bank + 2'd1;
    endfunction

    assign w_last   = wa == AW'(NB - 1);
    assign in_ready = !full[wb] && (!w_last || !sc_busy);
    assign accept   = in_valid && in_ready;

    always_comb begin
        s1_beat = '0;
        s2_beat = '0;
        for (int l = 0; l < LANES; l++) begin
            logic signed [IN_W-1:0]   x;
            logic signed [2*IN_W-1:0] xx;
            logic        [2*IN_W-1:0] sq;
            x       = $signed(in_data[l*IN_W +: IN_W]);
            xx      = (2*IN_W)'(x) * (2*IN_W)'(x);
            sq      = unsigned'(xx) + ((2*IN_W)'(1) << (P - 1));
            s1_beat = s1_beat + S1W'(x);
            s2_beat = s2_beat + S2W'(sq >> P);
        end
    end
    assign s1_row = (wa == '0) ? s1_beat : s1_acc + s1_beat;
    assign s2_row = (wa == '0) ? s2_beat : s2_acc + s2_beat;

    // V of the finished row (one cycle after its last beat, into the scalar unit)
    logic signed [S1W-1:0] sc_s1;
    logic [S2W-1:0]        sc_s2;
    logic                  sc_go;
    logic [63:0]           s2c, ns2, hsq, v;
    logic signed [S1W-1:0] h;
    logic [S1W-1:0]        habs;
    logic [31:0]           hc;
    assign s2c  = (64'(sc_s2) > S2MAX) ? S2MAX : 64'(sc_s2);
    assign ns2  = s2c * 64'(N);
    assign h    = (sc_s1 + (S1W'(1) <<< (P / 2 - 1))) >>> (P / 2);
    assign habs = h[S1W-1] ? S1W'(-h) : S1W'(h);
    assign hc   = (64'(habs) > 64'(HMAX)) ? HMAX : 32'(habs);
    assign hsq  = 64'(hc) * 64'(hc);
    assign v    = ((SUB_MEAN != 0) ? ((ns2 > hsq) ? ns2 - hsq : 64'd0) : ns2) + 64'(EPS_CODE);

    always_ff @(posedge clk) begin
        if (rst) begin
            wb    <= 2'd0;
            wa    <= '0;
            full  <= 3'b000;
            sc_go <= 1'b0;
        end else begin
            sc_go <= 1'b0;
            if (accept) begin
                mem[addr(wb, wa)] <= in_data;
                s1_acc        <= s1_row;
                s2_acc        <= s2_row;
                if (w_last) begin
                    wa          <= '0;
                    wb          <= next(wb);
                    full[wb]    <= 1'b1;
                    s1_q[wb]    <= s1_row;
                    sc_s1       <= s1_row;
                    sc_s2       <= s2_row;
                    sc_bank     <= wb;
                    sc_go       <= 1'b1;
                end else begin
                    wa <= wa + 1'b1;
                end
            end
            if (rd_last_issue) full[rb] <= 1'b0;
        end
    end

    mx_rsqrt_serial #(.M(M), .K(K), .RB(RB)) rsq (.clk, .rst, .start(sc_go), .in_v(v), .busy(sc_busy),
        .done(sc_done), .out_r(sc_r), .out_k(sc_k));

    always_ff @(posedge clk) begin
        if (rst) begin
            ready_q <= 3'b000;
        end else begin
            if (sc_done) begin
                ready_q[sc_bank] <= 1'b1;
                r_q[sc_bank]     <= sc_r;
                sh_q[sc_bank]    <= 7'(8'(K + P / 2 - T_F) + sc_k);
            end
            if (rd_last_issue) ready_q[rb] <= 1'b0;
        end
    end

    // ------------------------------------------------------------------ output phase
    logic                  ce, issue, rd_last_issue, va, vb;
    logic [LANES*IN_W-1:0] xa;
    logic [W_W-1:0]        wa_d, wb_d;
    logic [RB-1:0]         ra_r;
    logic [6:0]            ra_sh;
    logic signed [S1W-1:0] ra_s1;

    assign ce            = !out_valid || out_ready;
    assign w_ready       = ce && full[rb] && ready_q[rb];
    assign issue         = w_ready && w_valid;
    assign rd_last_issue = issue && (ra == AW'(NB - 1));

    always_ff @(posedge clk) begin
        if (rst) begin
            rb        <= 2'd0;
            ra        <= '0;
            va        <= 1'b0;
            vb        <= 1'b0;
            out_valid <= 1'b0;
        end else if (ce) begin
            va        <= issue;
            vb        <= va;
            out_valid <= vb;
            if (issue) begin
                ra <= rd_last_issue ? '0 : ra + 1'b1;
                if (rd_last_issue) rb <= next(rb);
            end
        end
    end
    always_ff @(posedge clk) begin
        if (issue) begin
            xa    <= mem[addr(rb, ra)];
            wa_d  <= w_data;
            ra_r  <= r_q[rb];
            ra_sh <= sh_q[rb];
            ra_s1 <= s1_q[rb];
        end
        if (ce) wb_d <= wa_d;
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [IN_W-1:0]  x;
            logic signed [CWD-1:0]   c;
            logic signed [PWD-1:0]   p, pr, ps;
            logic signed [TW-1:0]    t, tb;
            logic signed [G_W-1:0]   g;
            logic signed [QW-1:0]    tg, q;
            logic signed [QW:0]      qb;
            logic signed [OUT_W-1:0] y;
            assign x  = $signed(xa[l*IN_W +: IN_W]);
            assign c  = CWD'(x) * CWD'(N) - ((SUB_MEAN != 0) ? CWD'(ra_s1) : CWD'(0));
            assign p  = PWD'(c) * PWD'($signed({1'b0, ra_r}));
            assign pr = p + (PWD'(1) <<< (ra_sh - 7'd1));
            assign ps = pr >>> ra_sh;
            mx_round_sat #(.IN_W(PWD), .SHIFT(0), .OUT_W(TW)) sat_t (.in_data(ps), .out_data(t));
            always_ff @(posedge clk) if (ce) tb <= t;
            assign g  = $signed(wb_d[l*G_W +: G_W]);
            assign tg = QW'(tb) * QW'(g);
            mx_round_sat #(.IN_W(QW), .SHIFT(T_F + G_F - OUT_F), .OUT_W(QW)) rnd_y (.in_data(tg), .out_data(q));
            if (SUB_MEAN != 0) begin : g_bias
                assign qb = (QW + 1)'(q) + (QW + 1)'($signed(wb_d[LANES*G_W + l*OUT_W +: OUT_W]));
            end else begin : g_nobias
                assign qb = (QW + 1)'(q);
            end
            mx_round_sat #(.IN_W(QW + 1), .SHIFT(0), .OUT_W(OUT_W)) sat_y (.in_data(qb), .out_data(y));
            always_ff @(posedge clk) if (ce) out_data[l*OUT_W +: OUT_W] <= y;
        end
    endgenerate
endmodule
