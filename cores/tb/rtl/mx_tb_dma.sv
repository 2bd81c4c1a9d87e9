// Testbench DMA channel (simulation only): reads the region of the off-chip memory image that holds one
// streamed port's beats (WORDS bus words from word address BASE, through mx_tb_mem), once per pass,
// and plays them as an AXI4-Stream (out_data = TDATA, out_valid = TVALID, out_ready = TREADY).
// A region holds BEATS beats of BEAT_BITS bits (the port's WIDTH rounded up to whole bytes), packed
// back to back from bit 0 of its first word (little endian), zero bits after the last beat up to the
// end of the word. Passes: +<NAME>_n=<beats> / BEATS (the weights are read once per input vector).
// The channel keeps up to FIFO_WORDS words in flight or buffered (reads ahead of its consumer by that
// much: the prefetch while its layer waits); reports the cycles of its first and last handshake.
// Layer reuse (hw.fold): LAYERS regions of the same size, STRIDE words apart (region l from word
// BASE + l x STRIDE), each read LAYER_PASSES times (once per token of a pass) before the next one,
// cyclically; the channel reads across a region's end into the next layer's (the prefetch of the next
// layer's weights while the current layer computes). The defaults (LAYERS = 1) are one region.
module mx_tb_dma #(
    parameter int    WIDTH     = 8,
    parameter int    BEAT_BITS = 8,
    parameter int    BUS_BITS  = 512,
    parameter int    BASE      = 0,
    parameter int    WORDS     = 1,
    parameter int    BEATS     = 1,
    parameter int    FIFO_WORDS = 16,
    parameter int    LAYERS    = 1,
    parameter int    STRIDE    = 0,
    parameter int    LAYER_PASSES = 1,
    parameter string NAME      = "w"
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
    output logic                done,
    output int                  first_cycle,
    output int                  last_cycle
);
    localparam int BW = BUS_BITS + BEAT_BITS;
    logic [BUS_BITS-1:0] fifo [FIFO_WORDS];
    logic [BW-1:0] buffer;
    int n, passes, rd_word, rd_pass, rd_layer, rd_rep, inflight, count, head, tail, nbits, left, sent, cycle;

    initial begin
        n = 0;
        if (!$value$plusargs({NAME, "_n=%d"}, n)) n = 0;
        if (n % BEATS != 0) $fatal(1, "%s: %0d beats are not whole passes of %0d", NAME, n, BEATS);
        passes = n / BEATS;
    end

    assign req  = rd_pass < passes && inflight + count < FIFO_WORDS;
    assign addr = 32'(BASE + rd_layer * STRIDE + rd_word);
    assign out_valid = nbits >= BEAT_BITS && sent < n;
    assign out_data  = buffer[WIDTH-1:0];
    assign done = sent == n;

    always_ff @(posedge clk) begin
        if (rst) begin
            rd_word <= 0;
            rd_pass <= 0;
            rd_layer <= 0;
            rd_rep <= 0;
            inflight <= 0;
            count <= 0;
            head <= 0;
            tail <= 0;
            nbits <= 0;
            buffer <= '0;
            left <= BEATS;
            sent <= 0;
            cycle <= 0;
            first_cycle <= -1;
            last_cycle <= -1;
        end else begin
            logic [BW-1:0] b;
            int nb, c, h;
            cycle <= cycle + 1;
            if (grant) begin
                if (rd_word == WORDS - 1) begin
                    rd_word <= 0;
                    rd_pass <= rd_pass + 1;
                    if (rd_rep == LAYER_PASSES - 1) begin
                        rd_rep <= 0;
                        rd_layer <= (rd_layer == LAYERS - 1) ? 0 : rd_layer + 1;
                    end else rd_rep <= rd_rep + 1;
                end else rd_word <= rd_word + 1;
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
            if (out_valid && out_ready) begin
                if (first_cycle < 0) first_cycle <= cycle;
                last_cycle <= cycle;
                sent <= sent + 1;
                b = b >> BEAT_BITS;
                nb = nb - BEAT_BITS;
                if (left == 1) begin  // the pass's last beat: the rest of its last word is padding
                    b = '0;
                    nb = 0;
                    left <= BEATS;
                end else left <= left - 1;
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
