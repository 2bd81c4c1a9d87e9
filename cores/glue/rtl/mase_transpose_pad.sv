// Buffers T vectors of F fixed-point elements (LANES a beat, token by token), then streams them
// feature by feature: for each f, the T values of the tokens followed by T_PAD - T zeros (LANES
// tokens a beat), so that a quantizer blocks V along the tokens for the scores x V product.
// The buffer is read synchronously into the output register (with LANES = 1 one write and one read
// port: block RAM); the drain moves a beat every cycle and the next fill may start while the last
// beat of the drain waits in the output register.
// STEP = 1 (KV-cache decode: a V cache of T tokens): after each token's F values, the whole buffer
// drains, tokens 0..t (the ones written so far) followed by zeros up to T_PAD, so that token t's
// scores x V reads V^T of the tokens <= t; after the T-th token the next one starts a new sequence.
// BANKS > 1 (STEP = 1 under layer reuse, hw.fold): BANKS V caches, one per decoder layer the reused
// hardware computes; each token arrives BANKS times (once per pass, bank 0 first) and drains its own
// bank's tokens <= t; the token advances after the last bank. Token-major layout (token t of bank b
// at (t x BANKS + b) x F), so the writes stay sequential.
module mase_transpose_pad #(
    parameter int W     = 16,
    parameter int LANES = 1,
    parameter int F     = 32,
    parameter int T     = 8,
    parameter int T_PAD = 32,
    parameter int STEP  = 0,
    parameter int BANKS = 1
) (
    input  logic               clk,
    input  logic               rst,
    input  logic [LANES*W-1:0] in_data,
    input  logic               in_valid,
    output logic               in_ready,
    output logic [LANES*W-1:0] out_data,
    output logic               out_valid,
    input  logic               out_ready
);
    logic [W-1:0]       mem [BANKS*T*F];
    logic [LANES*W-1:0] rd;     // the buffer's read register (the output beat, before padding)
    logic [LANES-1:0]   zq;     // lanes of the output beat that are padding (token >= T)
    logic               drain, ov, adv;
    int wi, rf, rt, fi, last;   // last: the last token of the drain (T - 1, or the token just written)
    int tc;                     // STEP: the token being written
    int bk;                     // STEP: the bank (pass) being written and drained
    // the drain's read address of lane 0, ((rt x BANKS) + bk) x F + rf, kept by additions: the product
    // in the read path was the critical path of smollm2-135m's folded ECP5 layer (F 192: 48.4 MHz)
    int ra, bkf;                // bkf: bk x F
    assign last      = (STEP != 0) ? tc : T - 1;
    assign in_ready  = !drain;
    assign adv       = drain && (!ov || out_ready);  // read the next beat of the drain
    assign out_valid = ov;
    for (genvar i = 0; i < LANES; i++) begin : g_lane
        assign out_data[i*W +: W] = zq[i] ? '0 : rd[i*W +: W];
        always_ff @(posedge clk) if (adv) rd[i*W +: W] <= mem[(rt + i <= last) ? ra + i * BANKS * F : rf];
    end
    always_ff @(posedge clk) begin
        if (!rst && !drain && in_valid)
            for (int i = 0; i < LANES; i++) mem[wi + i] <= in_data[i*W +: W];
    end
    always_ff @(posedge clk) begin
        if (rst) begin
            wi    <= 0;
            fi    <= 0;
            tc    <= 0;
            bk    <= 0;
            bkf   <= 0;
            rf    <= 0;
            rt    <= 0;
            ra    <= 0;
            drain <= 1'b0;
            ov    <= 1'b0;
        end else begin
            if (out_ready) ov <= 1'b0;
            if (!drain) begin
                if (in_valid) begin
                    wi <= (wi + LANES == BANKS * T * F) ? 0 : wi + LANES;
                    fi <= (fi + LANES == F) ? 0 : fi + LANES;
                    if ((STEP != 0) ? (fi + LANES == F) : (wi + LANES == T * F)) drain <= 1'b1;
                end
            end else if (adv) begin
                ov <= 1'b1;
                for (int i = 0; i < LANES; i++) zq[i] <= rt + i > last;
                if (rt + LANES == T_PAD) begin
                    rt <= 0;
                    if (rf == F - 1) begin
                        rf    <= 0;
                        drain <= 1'b0;
                        bk    <= (bk == BANKS - 1) ? 0 : bk + 1;
                        bkf   <= (bk == BANKS - 1) ? 0 : bkf + F;
                        ra    <= (bk == BANKS - 1) ? 0 : bkf + F;
                        if (bk == BANKS - 1) tc <= (tc == T - 1) ? 0 : tc + 1;
                    end else begin
                        rf <= rf + 1;
                        ra <= bkf + rf + 1;
                    end
                end else begin
                    rt <= rt + LANES;
                    ra <= ra + LANES * BANKS * F;
                end
            end
        end
    end
    initial if (BANKS != 1 && STEP == 0) $fatal(1, "mase_transpose_pad: BANKS %0d needs STEP 1", BANKS);
endmodule
