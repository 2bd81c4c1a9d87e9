// Reciprocal square root of a positive integer V < 2**62, bit-serial (mase.golden.nonlinear.rsqrt_int):
//   k = ceil((bits(V) - M) / 2), m = V / 4**k (truncating right shift, or exact left shift) in
//   [2**(M-2), 2**M); r = floor(2**K / sqrt(m)) = the largest r with r*r*m <= 4**K, one bit per cycle.
//   1/sqrt(V) ~= r * 2**-(K + k).
// start is taken in IDLE (busy = 0); done pulses RB + 2 cycles later with r and k valid until the next start.
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
    localparam int QW = 2 * RB + M;
    localparam logic [QW-1:0] LIMIT = QW'(1) << (2 * K);

    typedef enum logic [1:0] {IDLE, NORM, ITER} state_t;
    state_t state;
    logic [63:0]        v;
    logic [M-1:0]       m;
    logic [6:0]         z;
    logic signed [7:0]  k;
    /* verilator lint_off UNUSEDSIGNAL */  // m < 2**M by the choice of k
    logic [63:0]        m_full;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [$clog2(RB+1)-1:0] bitn;
    logic [RB-1:0]      cand;
    logic [QW-1:0]      q;

    always_comb begin
        z = 7'd0;
        for (int i = 0; i < 64; i++) if (v[i]) z = 7'(i + 1);
    end
    assign k      = (8'(signed'({1'b0, z})) - 8'(M) + 8'sd1) >>> 1;
    assign m_full = (k > 0) ? (v >> (2 * k)) : (v << (-2 * k));
    assign cand   = out_r | (RB'(1) << bitn);
    assign q      = QW'(cand) * QW'(cand) * QW'(m);

    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            state <= IDLE;
        end else begin
            case (state)
                IDLE: if (start) begin
                    v     <= in_v;
                    state <= NORM;
                end
                NORM: begin
                    m     <= m_full[M-1:0];
                    out_k <= k;
                    out_r <= '0;
                    bitn  <= ($clog2(RB+1))'(RB - 1);
                    state <= ITER;
                end
                default: begin
                    if (q <= LIMIT) out_r <= cand;
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
