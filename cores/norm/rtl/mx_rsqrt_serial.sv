// Reciprocal square root of a positive integer V < 2**62, bit-serial (mase.golden.nonlinear.rsqrt_int):
//   k = ceil((bits(V) - M) / 2), m = V / 4**k (truncating right shift, or exact left shift) in
//   [2**(M-2), 2**M); r = floor(2**K / sqrt(m)) = the largest r with r*r*m <= 4**K, one bit per cycle.
//   1/sqrt(V) ~= r * 2**-(K + k).
// No multiplier: with A = r*r*m, Bs = r*m*2**(b+1) and Ms = m*4**b, setting bit b of r tries
// A + Bs + Ms = (r + 2**b)**2 m <= 4**K, i.e. S <= R with S = Bs + Ms and the remainder R = 4**K - A;
// then R <- R - S, Bs <- Bs / 2 + Ms (kept) or Bs / 2, Ms <- Ms / 4, all exact. S and U = Bs / 2 + Ms
// of the next bit are formed from registers beside the subtraction R - S (both outcomes, then a
// select), so that a cycle holds one subtraction. Normalisation takes four registered steps (leading one
// per byte, the leading one z with 2k + M = z + ((z - M) mod 2), k with the shift
// m = (V * 2**M) >> (2k + M) by a multiple of 8, then by the rest).
// start is taken in IDLE (busy = 0); done pulses RB + 5 cycles later with r and k valid until the next start.
module mx_rsqrt_serial #(
    parameter int M  = 16,
    parameter int K  = 24,
    parameter int RB = K - M / 2 + 2
) (
    input  logic                clk,
    input  logic                rst,
    input  logic                start,
    input  logic [63:0]         in_v,
    output logic                busy,
    output logic                done,
    output logic [RB-1:0]       out_r,
    output logic signed [7:0]   out_k
);
    localparam int QW = 2 * RB + M + 2;
    localparam logic [QW-1:0] LIMIT = QW'(1) << (2 * K);

    typedef enum logic [2:0] {IDLE, LEADB, LEAD, KSTEP, NORM, ITER} state_t;
    state_t state;
    logic [63:0]        v;
    logic [6:0]         z, z_q;
    logic [7:0]         nzb, nzb_q;     // byte b of v is not zero
    logic [23:0]        pb, pb_q;       // leading one of byte b, 3 bits each
    logic signed [7:0]  k;
    /* verilator lint_off UNUSEDSIGNAL */  // m < 2**M by the choice of k
    logic [63+M:0]      vsh, m_full;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [6:0]         amt;  // 2k + M = z + ((z - M) mod 2) >= 0 (k >= (1 - M) / 2)
    logic [$clog2(RB+1)-1:0] bitn;
    logic [QW-1:0]      rem, bs, ms, s, u, ms4;
    logic [QW:0]        diff;
    logic               acc;

    always_comb begin
        for (int b = 0; b < 8; b++) begin
            nzb[b] = |v[8*b +: 8];
            pb[3*b +: 3] = 3'd0;
            for (int i = 0; i < 8; i++) if (v[8*b + i]) pb[3*b +: 3] = 3'(i);
        end
        z = 7'd0;
        for (int b = 0; b < 8; b++) if (nzb_q[b]) z = 7'(8 * b) + 7'(pb_q[3*b +: 3]) + 7'd1;
    end
    assign m_full = vsh >> amt[2:0];
    assign k      = (8'(signed'({1'b0, z_q})) - 8'(M) + 8'sd1) >>> 1;
    assign diff   = {1'b0, rem} - {1'b0, s};
    assign acc    = !diff[QW];  // S <= R
    assign ms4    = ms >> 2;

    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            state <= IDLE;
        end else begin
            case (state)
                IDLE: if (start) begin
                    v     <= in_v;
                    state <= LEADB;
                end
                LEADB: begin
                    nzb_q <= nzb;
                    pb_q  <= pb;
                    state <= LEAD;
                end
                LEAD: begin
                    z_q   <= z;
                    amt   <= z + {6'd0, z[0] ^ M[0]};
                    state <= KSTEP;
                end
                KSTEP: begin
                    out_k <= k;
                    vsh   <= {v, M'(0)} >> {amt[6:3], 3'd0};
                    state <= NORM;
                end
                NORM: begin
                    rem   <= LIMIT;
                    bs    <= '0;
                    ms    <= QW'(m_full[M-1:0]) << (2 * (RB - 1));
                    s     <= QW'(m_full[M-1:0]) << (2 * (RB - 1));
                    u     <= QW'(m_full[M-1:0]) << (2 * (RB - 1));
                    out_r <= '0;
                    bitn  <= ($clog2(RB+1))'(RB - 1);
                    state <= ITER;
                end
                default: begin
                    ms <= ms4;
                    if (acc) begin
                        out_r <= out_r | (RB'(1) << bitn);
                        rem   <= diff[QW-1:0];
                        bs    <= u;
                        s     <= u + ms4;
                        u     <= (u >> 1) + ms4;
                    end else begin
                        bs <= bs >> 1;
                        s  <= (bs >> 1) + ms4;
                        u  <= (bs >> 2) + ms4;
                    end
                    if (bitn == 0) begin
                        state <= IDLE;
                        done  <= 1'b1;
                    end else begin
                        bitn <= bitn - 1'b1;
                    end
                end
            endcase
        end
    end
    assign busy = state != IDLE;
endmodule
