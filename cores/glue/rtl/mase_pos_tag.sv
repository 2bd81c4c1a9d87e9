// Adds the token position above the data of every beat: pos counts tokens, BEATS beats per token
// (softmax rows carry the position of their query token for the causal mask). TOKENS > 0: the
// position restarts at 0 after TOKENS tokens (hw.fold: every pass is the same prompt again).
// HOLD > 1: the position advances every HOLD tokens (the hw.fold decode design: each token passes
// the reused layer HOLD times, once per pass, at the same position).
module mase_pos_tag #(
    parameter int WIDTH  = 20,
    parameter int POS_W  = 16,
    parameter int BEATS  = 8,
    parameter int TOKENS = 0,
    parameter int HOLD   = 1
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [WIDTH-1:0]       in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    output logic [POS_W+WIDTH-1:0] out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    localparam int CW = $clog2(BEATS + 1);  // holds 0..BEATS
    logic [POS_W-1:0] pos;
    localparam int HCW = (HOLD > 1) ? $clog2(HOLD) : 1;
    logic [HCW-1:0]   hc;    // HOLD: passes of the current token so far
    logic             held;  // the token's last pass: the position advances after it
    assign held = HOLD <= 1 || hc == HCW'(HOLD - 1);
    logic [CW-1:0]    cnt;
    assign out_data  = {pos, in_data};
    assign out_valid = in_valid;
    assign in_ready  = out_ready;
    always_ff @(posedge clk) begin
        if (rst) begin
            cnt <= '0;
            pos <= '0;
            hc  <= '0;
        end else if (in_valid && out_ready) begin
            if (cnt == CW'(BEATS - 1)) begin
                cnt <= '0;
                hc <= held ? '0 : hc + 1'b1;
                if (held) pos <= (TOKENS > 0 && pos == POS_W'(TOKENS - 1)) ? '0 : pos + 1'b1;
            end else begin
                cnt <= cnt + 1'b1;
            end
        end
    end
endmodule
