// Testbench DMA read channel (MM2S) of a KV cache in off-chip memory (simulation only; hw.kv_cache=
// offchip, mase/compiler/README.md "KV caches off chip"): the descriptor program of one cache, played
// from the memory model (mx_tb_mem) as an AXI4-Stream of BEAT_BITS beats (out_data = TDATA, WIDTH bits).
// Units u = 0, 1, ...: token t = (u / BANKS) mod T of bank b = u mod BANKS (a bank per decoder layer of
// a folded hardware layer), at BASE + b x BANK_STRIDE words. A unit reads runs, each from the start of
// a row (ROW_STRIDE words apart), its beats packed from bit 0, the rest of the run's last word dropped:
//   MODE 0 (K cache, rows = tokens): t runs (rows 0..t-1) of RUN_BEATS beats;
//   MODE 1 (V cache, rows = features, V transposed): ROWS runs of ceil(t / LANES) beats.
// A unit reads only what earlier tokens wrote: it waits until the paired write channel (mx_tb_kvwr)
// has `committed` unit u - BANKS (the same bank's previous token), as a DMA engine issues a read
// descriptor after the write responses it depends on. Up to FIFO_WORDS words in flight or buffered.
module mx_tb_kvrd #(
    parameter int    WIDTH       = 8,
    parameter int    BEAT_BITS   = 8,
    parameter int    BUS_BITS    = 512,
    parameter int    BASE        = 0,
    parameter int    BANK_STRIDE = 1,
    parameter int    ROW_STRIDE  = 1,
    parameter int    MODE        = 0,
    parameter int    RUN_BEATS   = 1,
    parameter int    ROWS        = 1,
    parameter int    LANES       = 1,
    parameter int    T           = 1,
    parameter int    BANKS       = 1,
    parameter int    FIFO_WORDS  = 16
) (
    input  logic                clk,
    input  logic                rst,
    output logic                req,
    output logic [31:0]         addr,
    input  logic                grant,
    input  logic                rvalid,
    input  logic [BUS_BITS-1:0] rdata,
    output logic [WIDTH-1:0]    out_data,
    output logic                out_valid,
    input  logic                out_ready,
    input  int                  committed
);
    localparam int BW = BUS_BITS + BEAT_BITS;
    logic [BUS_BITS-1:0] fifo [FIFO_WORDS];
    logic [BW-1:0] buffer;
    int q_u, q_r, q_w, p_u, p_r, p_b, inflight, count, head, tail, nbits;

    function automatic int tok(input int u);
        return (u / BANKS) % T;
    endfunction
    function automatic int runs(input int u);
        if (tok(u) == 0) return 0;
        return (MODE == 0) ? tok(u) : ROWS;
    endfunction
    function automatic int beats(input int u);
        return (MODE == 0) ? RUN_BEATS : (tok(u) + LANES - 1) / LANES;
    endfunction
    function automatic int words(input int u);
        return (beats(u) * BEAT_BITS + BUS_BITS - 1) / BUS_BITS;
    endfunction

    assign req  = runs(q_u) > 0 && committed > q_u - BANKS && inflight + count < FIFO_WORDS;
    assign addr = 32'(BASE + (q_u % BANKS) * BANK_STRIDE + q_r * ROW_STRIDE + q_w);
    assign out_valid = runs(p_u) > 0 && nbits >= BEAT_BITS;
    assign out_data  = buffer[WIDTH-1:0];

    always_ff @(posedge clk) begin
        if (rst) begin
            q_u <= 0;
            q_r <= 0;
            q_w <= 0;
            p_u <= 0;
            p_r <= 0;
            p_b <= 0;
            inflight <= 0;
            count <= 0;
            head <= 0;
            tail <= 0;
            nbits <= 0;
            buffer <= '0;
        end else begin
            logic [BW-1:0] b;
            int nb, c, h;
            if (runs(q_u) == 0) q_u <= q_u + 1;  // a first token reads nothing
            else if (grant) begin
                if (q_w == words(q_u) - 1) begin
                    q_w <= 0;
                    if (q_r == runs(q_u) - 1) begin
                        q_r <= 0;
                        q_u <= q_u + 1;
                    end else q_r <= q_r + 1;
                end else q_w <= q_w + 1;
            end
            inflight <= inflight + int'(grant) - int'(rvalid);
            c = count;
            if (rvalid) begin
                fifo[tail] <= rdata;
                tail <= (tail + 1) % FIFO_WORDS;
            end
            b = buffer;
            nb = nbits;
            h = head;
            if (runs(p_u) == 0) p_u <= p_u + 1;
            else if (out_valid && out_ready) begin
                b = b >> BEAT_BITS;
                nb = nb - BEAT_BITS;
                if (p_b == beats(p_u) - 1) begin  // the run's last beat: the rest of its last word is padding
                    b = '0;
                    nb = 0;
                    p_b <= 0;
                    if (p_r == runs(p_u) - 1) begin
                        p_r <= 0;
                        p_u <= p_u + 1;
                    end else p_r <= p_r + 1;
                end else p_b <= p_b + 1;
            end
            if (c > 0 && nb < BEAT_BITS) begin
                b = b | (BW'(fifo[h]) << nb);
                nb = nb + BUS_BITS;
                h = (h + 1) % FIFO_WORDS;
                c = c - 1;
            end
            buffer <= b;
            nbits <= nb;
            head <= h;
            count <= c + int'(rvalid);
        end
    end
endmodule
