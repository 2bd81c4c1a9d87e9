// Testbench DMA write channel (S2MM) of a KV cache in off-chip memory (simulation only; hw.kv_cache=
// offchip): takes the design's write stream (in_data = TDATA, WIDTH bits; each beat stored in
// BEAT_BITS, whole bytes) and writes it into the memory model (mx_tb_mem's write port) by the
// descriptor program of one cache. Units u = 0, 1, ... as mx_tb_kvrd (token t, bank b):
//   MODE 0 (K cache): RUN_BEATS beats packed from bit 0 of row t (ROW_STRIDE words a row), one bus word
//     a write, the last one with the byte enables of its bytes;
//   MODE 1 (V cache, transposed): ROWS beats, beat f into row f at bit t x BEAT_BITS (one word, the
//     beat's byte enables: a strided descriptor).
// `committed`: the units whose every write has been granted (the memory holds them), for the paired
// read channel.
module mx_tb_kvwr #(
    parameter int    WIDTH       = 8,
    parameter int    BEAT_BITS   = 8,
    parameter int    BUS_BITS    = 512,
    parameter int    BASE        = 0,
    parameter int    BANK_STRIDE = 1,
    parameter int    ROW_STRIDE  = 1,
    parameter int    MODE        = 0,
    parameter int    RUN_BEATS   = 1,
    parameter int    ROWS        = 1,
    parameter int    T           = 1,
    parameter int    BANKS       = 1
) (
    input  logic                  clk,
    input  logic                  rst,
    input  logic [WIDTH-1:0]      in_data,
    input  logic                  in_valid,
    output logic                  in_ready,
    output logic                  wreq,
    output logic [31:0]           waddr,
    output logic [BUS_BITS-1:0]   wdata,
    output logic [BUS_BITS/8-1:0] wstrb,
    input  logic                  wgrant,
    output int                    committed
);
    localparam int BW = BUS_BITS + BEAT_BITS;
    localparam int WB = BUS_BITS / 8;
    logic [BW-1:0] buffer;
    int u, n_in, wi, nbits, tk, bk;
    assign tk = (u / BANKS) % T;
    assign bk = u % BANKS;
    if (MODE == 0) begin : g_rows
        logic full, flush;
        assign full  = nbits >= BUS_BITS;
        assign flush = n_in == RUN_BEATS && nbits > 0;
        assign wreq  = full || flush;
        assign waddr = 32'(BASE + bk * BANK_STRIDE + tk * ROW_STRIDE + wi);
        assign wdata = buffer[BUS_BITS-1:0];
        for (genvar i = 0; i < WB; i++) begin : g_strb
            assign wstrb[i] = full || (i * 8 < nbits);
        end
        assign in_ready = !wreq && n_in < RUN_BEATS;
        always_ff @(posedge clk) begin
            if (rst) begin
                u <= 0;
                n_in <= 0;
                wi <= 0;
                nbits <= 0;
                buffer <= '0;
                committed <= 0;
            end else if (wreq) begin
                if (wgrant) begin
                    buffer <= buffer >> BUS_BITS;
                    nbits  <= full ? nbits - BUS_BITS : 0;
                    wi     <= wi + 1;
                end
            end else if (in_valid && in_ready) begin
                buffer <= buffer | (BW'(in_data) << nbits);
                nbits  <= nbits + BEAT_BITS;
                n_in   <= n_in + 1;
            end else if (n_in == RUN_BEATS) begin  // the unit is in memory
                n_in <= 0;
                wi <= 0;
                u <= u + 1;
                committed <= committed + 1;
            end
        end
    end else begin : g_cols
        logic [BEAT_BITS-1:0] hold;
        logic hv;
        int bit0;
        assign bit0  = tk * BEAT_BITS;
        assign wreq  = hv;
        assign waddr = 32'(BASE + bk * BANK_STRIDE + wi * ROW_STRIDE + bit0 / BUS_BITS);
        assign wdata = BUS_BITS'(hold) << (bit0 % BUS_BITS);
        for (genvar i = 0; i < WB; i++) begin : g_strb
            assign wstrb[i] = i * 8 >= bit0 % BUS_BITS && i * 8 < bit0 % BUS_BITS + BEAT_BITS;
        end
        assign in_ready = !hv;
        always_ff @(posedge clk) begin
            if (rst) begin
                u <= 0;
                wi <= 0;
                hv <= 1'b0;
                hold <= '0;
                committed <= 0;
                n_in <= 0;
                nbits <= 0;
                buffer <= '0;
            end else if (hv) begin
                if (wgrant) begin
                    hv <= 1'b0;
                    if (wi == ROWS - 1) begin
                        wi <= 0;
                        u <= u + 1;
                        committed <= committed + 1;
                    end else wi <= wi + 1;
                end
            end else if (in_valid) begin
                hold <= BEAT_BITS'(in_data);
                hv <= 1'b1;
            end
        end
    end
endmodule
