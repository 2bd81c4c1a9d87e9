// Row normalisation engine of mx_rmsnorm (SUB_MEAN = 0) and mx_layernorm (SUB_MEAN = 1), bit-exact
// with mase.golden.nonlinear.norm_int. Rows of N elements arrive as N/LANES beats on `in`; the learned
// scale (and bias) arrive on `w`, one beat per output beat, in the same order.
//   in_data  = LANES x IN_W (x; its fraction bits only enter EPS_CODE)         w_data = {LANES x OUT_W bias (SUB_MEAN only), LANES x G_W scale}
//   out_data = LANES x OUT_W (y, Q.OUT_F)
// Input phase: the row is written into one of three row buffers while s1 = sum x and
// s2 = sum round(x^2 / 2**P) accumulate (pipelined: x | x^2, three stages | round | sums, IL = 6
// cycles). V = N s2 (- h^2) + EPS_CODE is formed in VL = 6 (rmsnorm) or 9 (layernorm) more stages, then
// mx_rsqrt_serial computes r, k (RB + 5 cycles). Output phase (OL = 16 stages, all enabled by ce = !out_valid || out_ready):
//   read | x | c = N x (- s1) | c r (three stages) | + half | >>> shift | t = sat | t g (three stages) |
//   round (2) | + b | sat: c = N x (- s1); t = sat(round(c r / 2**(K + k + P/2 - T_F))); y = sat(round(t g / 2**(T_F + G_F - OUT_F)) + b).
// Three row buffers: rows stream in while earlier ones wait for their scalar or stream out. The last
// beat of a row is taken only when no earlier row is still in the scalar path, so one beat per cycle
// needs about N/LANES >= RB + 16 (the scalar path: IL + VL + RB + 4 cycles).
// Latency: the first output beat of a row leaves RB + 33 (rmsnorm) or RB + 36 (layernorm) cycles after its
// last input beat (RB + 37 before the rmsnorm V pipeline and the rsqrt's normalisation were shortened).
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

    localparam int ML   = 3;           // mx_mul_pipe
    localparam int IL   = ML + 3;      // input pipeline: x, square (ML), round, sums
    // V pipeline (start of the rsqrt unit with V registered): s2 clamp | N s2 (ML) | V = N s2 + E (rmsnorm),
    // or s2 clamp | N s2 (ML) | two registers (beside |h|, its clamp, h^2) | N s2 - h^2 | V (layernorm)
    localparam int VL   = (SUB_MEAN != 0) ? ML + 6 : ML + 3;
    localparam int OL   = 2 * ML + 10; // output pipeline, issue to out_data

    // ------------------------------------------------------------------ input phase
    logic [LANES*IN_W-1:0] mem [3*NB];
    logic [1:0]            wb, rb, sc_bank;
    logic [2:0]            full, ready_q;
    logic [AW-1:0]         wa, ra;
    logic                  w_last, accept, sc_busy, sc_done, pend;
    logic [RB-1:0]         sc_r, r_q [3];
    logic signed [7:0]     sc_k;
    logic [6:0]            sh_q [3];
    logic signed [S1W-1:0] s1_q [3];

    // row buffer addresses bank * NB + beat: the banks are used in order, so both are counters mod 3 NB
    logic [BW-1:0]         waddr, raddr;
    function automatic logic [BW-1:0] inc(input logic [BW-1:0] a);
        inc = (a == BW'(3 * NB - 1)) ? '0 : a + 1'b1;
    endfunction
    function automatic logic [1:0] next(input logic [1:0] bank);
        next = (bank == 2'd2) ? 2'd0 : bank + 2'd1;
    endfunction

    assign w_last   = wa == AW'(NB - 1);
    assign in_ready = !full[wb] && (!w_last || (!sc_busy && !pend));
    assign accept   = in_valid && in_ready;

    // input pipeline (no back-pressure once a beat is taken): stage i of the flags is iv/ifst/ilst[i]
    logic [IL-2:0]         iv, ifst, ilst;
    logic [1:0]            ibank [IL-1];
    logic [LANES*IN_W-1:0] x1;
    logic signed [S1W-1:0] s1b [IL-1];  // the beat's lane sum, delayed to the sums stage
    logic [LANES*SQW-1:0]  sqr;
    logic signed [S1W-1:0] s1_acc, s1_row;
    logic [S2W-1:0]        s2_acc, s2_beat, s2_row;

    always_ff @(posedge clk) begin
        if (rst) begin
            iv <= '0;
        end else begin
            iv <= {iv[IL-3:0], accept};
        end
        ifst     <= {ifst[IL-3:0], wa == '0};
        ilst     <= {ilst[IL-3:0], accept && w_last};
        ibank[0] <= wb;
        for (int i = 1; i < IL - 1; i++) ibank[i] <= ibank[i-1];
        x1 <= in_data;
        for (int i = 1; i < IL - 1; i++) s1b[i] <= s1b[i-1];
    end
    always_comb begin
        s1b[0] = '0;
        for (int j = 0; j < LANES; j++) s1b[0] = s1b[0] + S1W'($signed(x1[j*IN_W +: IN_W]));
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l++) begin : g_sq
            logic signed [IN_W-1:0]   xs;  // a wire: Yosys 0.23 asserts on $signed(part select) at a port
            logic signed [2*IN_W-1:0] xx;
            logic        [2*IN_W-1:0] sq;
            assign xs = $signed(x1[l*IN_W +: IN_W]);
            mx_mul_pipe #(.A_W(IN_W), .B_W(IN_W)) m_sq (.clk, .ce(1'b1), .a(xs), .b(xs), .p(xx));
            assign sq = unsigned'(xx) + ((2*IN_W)'(1) << (P - 1));
            always_ff @(posedge clk) sqr[l*SQW +: SQW] <= SQW'(sq >> P);
        end
    endgenerate
    always_comb begin
        s2_beat = '0;
        for (int j = 0; j < LANES; j++) s2_beat = s2_beat + S2W'(sqr[j*SQW +: SQW]);
    end
    assign s1_row = ifst[IL-2] ? s1b[IL-2] : s1_acc + s1b[IL-2];
    assign s2_row = ifst[IL-2] ? s2_beat : s2_acc + s2_beat;

    // the sums stage: the row's s1, s2 into the V pipeline
    logic signed [S1W-1:0] sc_s1;
    logic [S2W-1:0]        sc_s2;
    always_ff @(posedge clk) begin
        if (iv[IL-2]) begin
            s1_acc <= s1_row;
            s2_acc <= s2_row;
        end
        if (ilst[IL-2]) begin
            s1_q[ibank[IL-2]] <= s1_row;
            sc_s1             <= s1_row;
            sc_s2             <= s2_row;
            sc_bank           <= ibank[IL-2];
        end
    end

    // V pipeline: clamp s2, round h | N s2 (ML stages, then two registers), |h|, clamped, h^2 (2 + ML) |
    // N s2 - h^2, clamped | V
    logic [VL-1:0]         vgo;
    logic [62:0]           s2c, s2c1;  // <= S2MAX < 2**62
    logic [63:0]           ns2, ns2d, ns2d2, hsq, vd, v;
    logic signed [63:0]    ns2_s;
    logic [64:0]           vdiff;  // N s2 - h^2, its sign: clamped at 0
    logic signed [S1W-1:0] h, h1;
    logic [S1W-1:0]        habs, habs2;
    logic [31:0]           hc2;
    logic signed [63:0]    hsq_s;
    assign s2c  = (64'(sc_s2) > S2MAX) ? S2MAX[62:0] : 63'(sc_s2);
    assign h    = (sc_s1 + (S1W'(1) <<< (P / 2 - 1))) >>> (P / 2);
    assign habs = h1[S1W-1] ? S1W'(-h1) : S1W'(h1);
    logic signed [62:0]    s2c1_s;  // wires: Yosys 0.23 asserts on $signed(...) at a port
    logic signed [LGN:0]   n_s;
    assign s2c1_s = $signed(s2c1);
    assign n_s    = (LGN + 1)'(N);
    mx_mul_pipe #(.A_W(63), .B_W(LGN + 1), .P_W(64)) m_n (.clk, .ce(1'b1), .a(s2c1_s), .b(n_s), .p(ns2_s));
    assign ns2  = unsigned'(ns2_s);
    mx_mul_pipe #(.A_W(33), .B_W(33), .P_W(64)) m_h (.clk, .ce(1'b1), .a($signed({1'b0, hc2})),
        .b($signed({1'b0, hc2})), .p(hsq_s));
    assign hsq  = unsigned'(hsq_s);  // < 2**62
    assign vdiff = {1'b0, ns2d2} - {1'b0, hsq};
    always_ff @(posedge clk) begin
        if (rst) vgo <= '0;
        else vgo <= {vgo[VL-2:0], ilst[IL-2]};
        s2c1    <= s2c;
        h1      <= h;
        ns2d    <= ns2;
        habs2   <= habs;
        hc2     <= (64'(habs2) > 64'(HMAX)) ? HMAX : 32'(habs2);
        ns2d2   <= ns2d;
        vd      <= (SUB_MEAN != 0) ? (!vdiff[64] ? vdiff[63:0] : 64'd0) : ns2d2;
        v       <= ((SUB_MEAN != 0) ? vd : ns2) + 64'(EPS_CODE);
    end
    assign pend = (|ilst) || (|vgo);

    always_ff @(posedge clk) begin
        if (rst) begin
            wb    <= 2'd0;
            wa    <= '0;
            waddr <= '0;
            full  <= 3'b000;
        end else begin
            if (accept) begin
                mem[waddr] <= in_data;
                waddr      <= inc(waddr);
                if (w_last) begin
                    wa       <= '0;
                    wb       <= next(wb);
                    full[wb] <= 1'b1;
                end else begin
                    wa <= wa + 1'b1;
                end
            end
            if (rd_last_issue) full[rb] <= 1'b0;
        end
    end

    mx_rsqrt_serial #(.M(M), .K(K), .RB(RB)) rsq (.clk, .rst, .start(vgo[VL-1]), .in_v(v), .busy(sc_busy),
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
    logic                  ce, issue, rd_last_issue;
    logic [OL-2:0]         ov;
    logic [LANES*IN_W-1:0] xa, xr;
    logic [W_W-1:0]        wd [ML+6];       // w beat, issue .. the t g stage
    logic [RB-1:0]         rd [3];          // r, issue .. the c r stage
    logic [6:0]            shd [ML+4];      // shift, issue .. the shift stage
    logic signed [S1W-1:0] s1d [2];         // s1, issue .. the c stage

    assign ce            = !out_valid || out_ready;
    assign w_ready       = ce && full[rb] && ready_q[rb];
    assign issue         = w_ready && w_valid;
    assign rd_last_issue = issue && (ra == AW'(NB - 1));

    always_ff @(posedge clk) begin
        if (rst) begin
            rb        <= 2'd0;
            ra        <= '0;
            raddr     <= '0;
            ov        <= '0;
            out_valid <= 1'b0;
        end else if (ce) begin
            ov        <= {ov[OL-3:0], issue};
            out_valid <= ov[OL-2];
            if (issue) begin
                raddr <= inc(raddr);
                ra    <= rd_last_issue ? '0 : ra + 1'b1;
                if (rd_last_issue) rb <= next(rb);
            end
        end
    end
    always_ff @(posedge clk) begin
        if (issue) begin
            xa     <= mem[raddr];
            wd[0]  <= w_data;
            rd[0]  <= r_q[rb];
            shd[0] <= sh_q[rb];
            s1d[0] <= s1_q[rb];
        end
        if (ce) begin
            xr <= xa;
            for (int i = 1; i < ML + 6; i++) wd[i] <= wd[i-1];
            for (int i = 1; i < 3; i++) rd[i] <= rd[i-1];
            for (int i = 1; i < ML + 4; i++) shd[i] <= shd[i-1];
            s1d[1] <= s1d[0];
        end
    end

    generate
        for (l = 0; l < LANES; l++) begin : g_lane
            logic signed [CWD-1:0]   c3;
            logic signed [PWD-1:0]   p, pr, ps;
            logic signed [TW-1:0]    t, t8;
            logic signed [G_W-1:0]   g;
            logic signed [QW-1:0]    tg, q;
            logic signed [QW:0]      qb, qb_r;
            logic signed [OUT_W-1:0] y;
            always_ff @(posedge clk) if (ce) c3 <= CWD'($signed(xr[l*IN_W +: IN_W])) * CWD'(N)
                                                  - ((SUB_MEAN != 0) ? CWD'(s1d[1]) : CWD'(0));
            mx_mul_pipe #(.A_W(CWD), .B_W(RB + 1), .P_W(PWD)) m_cr (.clk, .ce, .a(c3), .b($signed({1'b0, rd[2]})),
                .p(p));
            always_ff @(posedge clk) if (ce) begin
                pr <= p + (PWD'(1) <<< (shd[ML+2] - 7'd1));
                ps <= pr >>> shd[ML+3];
            end
            mx_round_sat #(.IN_W(PWD), .SHIFT(0), .OUT_W(TW)) sat_t (.in_data(ps), .out_data(t));
            always_ff @(posedge clk) if (ce) t8 <= t;
            assign g = $signed(wd[ML+5][l*G_W +: G_W]);
            mx_mul_pipe #(.A_W(TW), .B_W(G_W), .P_W(QW)) m_tg (.clk, .ce, .a(t8), .b(g), .p(tg));
            mx_round_sat_pipe #(.IN_W(QW), .SHIFT(T_F + G_F - OUT_F), .OUT_W(QW)) rnd_y (.clk, .ce, .in_data(tg),
                .out_data(q));
            if (SUB_MEAN != 0) begin : g_bias
                logic signed [OUT_W-1:0] bd [ML+2];
                always_ff @(posedge clk) if (ce) begin
                    bd[0] <= $signed(wd[ML+5][LANES*G_W + l*OUT_W +: OUT_W]);
                    for (int i = 1; i <= ML + 1; i++) bd[i] <= bd[i-1];
                end
                assign qb = (QW + 1)'(q) + (QW + 1)'(bd[ML+1]);
            end else begin : g_nobias
                assign qb = (QW + 1)'(q);
            end
            always_ff @(posedge clk) if (ce) qb_r <= qb;
            mx_round_sat #(.IN_W(QW + 1), .SHIFT(0), .OUT_W(OUT_W)) sat_y (.in_data(qb_r), .out_data(y));
            always_ff @(posedge clk) if (ce) out_data[l*OUT_W +: OUT_W] <= y;
        end
    endgenerate
endmodule
