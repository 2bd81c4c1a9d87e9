// Natural order -> rotation pairs for mx_rope: per head of HEAD_DIM elements (LANES a beat), the first
// half is buffered and each beat of the second half leaves as {pos, x_hi lanes, x_lo lanes}; the
// position counts tokens (HEADS heads a token); TOKENS > 0: it restarts at 0 after TOKENS tokens
// (hw.fold: every pass is the same prompt again). HOLD > 1: it advances every HOLD tokens (the hw.fold
// decode design: each token passes the reused layer HOLD times at the same position).
module mase_rope_pack #(
    parameter int LANES    = 1,
    parameter int W        = 16,
    parameter int HEAD_DIM = 64,
    parameter int HEADS    = 1,
    parameter int POS_W    = 16,
    parameter int TOKENS   = 0,
    parameter int HOLD     = 1
) (
    input  logic                           clk,
    input  logic                           rst,
    input  logic [LANES*W-1:0]             in_data,
    input  logic                           in_valid,
    output logic                           in_ready,
    output logic [POS_W+2*LANES*W-1:0]     out_data,
    output logic                           out_valid,
    input  logic                           out_ready
);
    localparam int HB = HEAD_DIM / (2 * LANES);
    logic [LANES*W-1:0] lo [HB];
    logic               hi_half;
    logic [POS_W-1:0]   pos;
    localparam int HCW = (HOLD > 1) ? $clog2(HOLD) : 1;
    logic [HCW-1:0]     hc;    // HOLD: passes of the current token so far
    logic               held;  // the token's last pass: the position advances after it
    assign held = HOLD <= 1 || hc == HCW'(HOLD - 1);
    int j, head;
    assign in_ready  = !hi_half || out_ready;
    assign out_valid = hi_half && in_valid;
    assign out_data  = {pos, in_data, lo[j]};
    always_ff @(posedge clk) begin
        if (rst) begin
            j       <= 0;
            head    <= 0;
            hi_half <= 1'b0;
            pos     <= '0;
            hc      <= '0;
        end else if (in_valid && in_ready) begin
            if (!hi_half) lo[j] <= in_data;
            if (j == HB - 1) begin
                j       <= 0;
                hi_half <= !hi_half;
                if (hi_half) begin
                    if (head == HEADS - 1) begin
                        head <= 0;
                        hc   <= held ? '0 : hc + 1'b1;
                        if (held) pos <= (TOKENS > 0 && pos == POS_W'(TOKENS - 1)) ? '0 : pos + 1'b1;
                    end else begin
                        head <= head + 1;
                    end
                end
            end else begin
                j <= j + 1;
            end
        end
    end
endmodule
