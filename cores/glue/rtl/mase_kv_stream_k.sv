// The K cache of the KV-cache decode design kept in off-chip memory (hw.kv_cache=offchip): for every
// token (and every bank: one per decoder layer a folded hardware layer computes, served in turn) it
// sends Q.K^T's B operand of T positions of BEATS beats (mase_attn_matmul keys, token-major):
// positions < t from `rd` (the cached keys, read back by a DMA channel), position t from `in` (the new
// key, also sent on `wr` for a DMA channel to write into the cache), positions > t zeros. The token t
// advances after the last bank and wraps after T tokens (the next token starts a new sequence).
// Streams are valid/ready; `in` goes to `out` and `wr` as a fork (each side takes the beat once).
module mase_kv_stream_k #(
    parameter int BW    = 72,  // a beat: the K stream's {scale, PAR_D codes}
    parameter int BEATS = 4,   // beats of one position (KV_HEADS x D / PAR_D)
    parameter int T     = 32,  // positions (the design's context)
    parameter int BANKS = 1
) (
    input  logic          clk,
    input  logic          rst,
    input  logic [BW-1:0] in_data,
    input  logic          in_valid,
    output logic          in_ready,
    input  logic [BW-1:0] rd_data,
    input  logic          rd_valid,
    output logic          rd_ready,
    output logic [BW-1:0] wr_data,
    output logic          wr_valid,
    input  logic          wr_ready,
    output logic [BW-1:0] out_data,
    output logic          out_valid,
    input  logic          out_ready
);
    localparam int PW = (T > 1) ? $clog2(T) : 1;
    localparam int BBW = (BEATS > 1) ? $clog2(BEATS) : 1;
    localparam int KW = (BANKS > 1) ? $clog2(BANKS) : 1;
    logic [PW-1:0]  pos, tok;
    logic [BBW-1:0] beat;
    logic [KW-1:0]  bank;
    logic           old, cur, o_done, w_done, fire;
    assign old = pos < tok;
    assign cur = pos == tok;
    // the new key: a fork into out and wr (a side that took the beat waits for the other)
    assign out_valid = old ? rd_valid : cur ? (in_valid && !o_done) : 1'b1;
    assign out_data  = old ? rd_data : cur ? in_data : '0;
    assign wr_valid  = cur && in_valid && !w_done;
    assign wr_data   = in_data;
    assign in_ready  = cur && (out_ready || o_done) && (wr_ready || w_done);
    assign rd_ready  = old && out_ready;
    assign fire      = old ? (rd_valid && out_ready) : cur ? (in_valid && in_ready) : out_ready;
    always_ff @(posedge clk) begin
        if (rst) begin
            pos    <= '0;
            tok    <= '0;
            beat   <= '0;
            bank   <= '0;
            o_done <= 1'b0;
            w_done <= 1'b0;
        end else begin
            if (cur && !fire) begin
                if (out_valid && out_ready) o_done <= 1'b1;
                if (wr_valid && wr_ready) w_done <= 1'b1;
            end else if (fire) begin
                o_done <= 1'b0;
                w_done <= 1'b0;
            end
            if (fire) begin
                beat <= (beat == BBW'(BEATS - 1)) ? '0 : beat + 1'b1;
                if (beat == BBW'(BEATS - 1)) begin
                    pos <= (pos == PW'(T - 1)) ? '0 : pos + 1'b1;
                    if (pos == PW'(T - 1)) begin
                        bank <= (bank == KW'(BANKS - 1)) ? '0 : bank + 1'b1;
                        if (bank == KW'(BANKS - 1)) tok <= (tok == PW'(T - 1)) ? '0 : tok + 1'b1;
                    end
                end
            end
        end
    end
endmodule
