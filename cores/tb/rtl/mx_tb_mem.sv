// Testbench off-chip memory model (simulation only): one read port of BUS_BITS a cycle shared by PORTS
// DMA channels (mx_tb_dma), holding the memory image FILE ($readmemh, one BUS_BITS word a line, word
// address = line). Each cycle at most one word is granted (round robin over the requesting channels),
// limited to the bandwidth BW_MILLI (thousandths of a byte per cycle; +mem_bw_milli=<n> overrides it):
// a word costs BUS_BITS/8 bytes of credit, the credit grows by the bandwidth every cycle and holds at
// most one word (an idle memory does not bank bandwidth). A granted word returns LATENCY cycles later
// on rdata with rvalid[port]. +stall=<percent> adds random cycles without a grant (refresh, bank
// conflicts). Prints MASE_TB_MEM words=<granted> first=<cycle> last=<cycle> at the end.
// Writes (the KV caches in off-chip memory, hw.kv_cache=offchip): WPORTS write channels (mx_tb_kvwr)
// request one word each (waddr, wdata, wstrb: a byte enable per byte) and share the grant, the round
// robin and the bandwidth with the reads; a granted write lands in the memory in that cycle, so a read
// granted later sees it. A design without writes ties wreq to 0.
module mx_tb_mem #(
    parameter int    PORTS    = 1,
    parameter int    WPORTS   = 1,
    parameter int    BUS_BITS = 512,
    parameter int    WORDS    = 1,
    parameter int    LATENCY  = 30,
    parameter int    BW_MILLI = 64000,
    parameter int    SALT     = 11,
    parameter string FILE     = "offchip.hex"
) (
    input  logic                clk,
    input  logic                rst,
    input  logic [PORTS-1:0]    req,
    input  logic [31:0]         addr [PORTS],
    output logic [PORTS-1:0]    grant,
    output logic [PORTS-1:0]    rvalid,
    output logic [BUS_BITS-1:0] rdata,
    input  logic [WPORTS-1:0]   wreq,
    input  logic [31:0]         waddr [WPORTS],
    input  logic [BUS_BITS-1:0] wdata [WPORTS],
    input  logic [BUS_BITS/8-1:0] wstrb [WPORTS],
    output logic [WPORTS-1:0]   wgrant
);
    localparam int N = PORTS + WPORTS;  // requesters: the read channels, then the write channels
    localparam longint COST = longint'(BUS_BITS) / 8 * 1000;
    logic [BUS_BITS-1:0] mem [WORDS];
    logic [PORTS-1:0]    pv [LATENCY];
    logic [31:0]         pa [LATENCY];
    longint credit, bw, avail;
    int stall, seed, rr, pick, cycle, words, first, last;
    logic [31:0] rng;
    logic ok;

    initial begin
        $readmemh(FILE, mem);
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        if (!$value$plusargs("stall=%d", stall)) stall = 0;
        bw = longint'(BW_MILLI);
        if ($value$plusargs("mem_bw_milli=%d", bw)) $display("MASE_TB_MEM bandwidth %0d millibytes/cycle", bw);
        rng = (32'(seed) * 32'h9E3779B1) ^ (32'(SALT) * 32'h85EBCA6B) ^ 32'h7654321 | 32'h1;
    end

    function automatic logic [31:0] xorshift(input logic [31:0] x);
        logic [31:0] y;
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        return y ^ (y << 5);
    endfunction

    // round robin from the channel after the last one granted
    always_comb begin
        avail = credit + bw;
        ok    = avail >= COST && (rng % 100) >= 32'(stall);
        pick  = -1;
        for (int k = 0; k < N; k++) begin
            int i;
            i = (rr + 1 + k) % N;
            if (pick < 0 && (i < PORTS ? req[i] : wreq[i - PORTS])) pick = i;
        end
        grant  = '0;
        wgrant = '0;
        if (ok && pick >= 0 && pick < PORTS) grant[pick] = 1'b1;
        if (ok && pick >= PORTS) wgrant[pick - PORTS] = 1'b1;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            credit <= 0;
            rr     <= N - 1;
            cycle  <= 0;
            words  <= 0;
            first  <= -1;
            last   <= -1;
            for (int s = 0; s < LATENCY; s++) pv[s] <= '0;
            rvalid <= '0;
        end else begin
            cycle <= cycle + 1;
            rng   <= xorshift(rng);
            if (|wgrant)
                for (int b = 0; b < BUS_BITS / 8; b++)
                    if (wstrb[pick - PORTS][b]) mem[waddr[pick - PORTS]][b*8 +: 8] <= wdata[pick - PORTS][b*8 +: 8];
            if (|grant || |wgrant) begin
                credit <= (avail - COST > COST) ? COST : avail - COST;
                rr     <= pick;
                words  <= words + 1;
                if (first < 0) first <= cycle;
                last <= cycle;
            end else begin
                credit <= (avail > COST) ? COST : avail;
            end
            pv[0] <= grant;
            pa[0] <= (pick >= 0 && pick < PORTS) ? addr[pick] : 32'd0;
            for (int s = 1; s < LATENCY; s++) begin
                pv[s] <= pv[s-1];
                pa[s] <= pa[s-1];
            end
            rvalid <= pv[LATENCY-1];
            rdata  <= mem[pa[LATENCY-1]];
        end
    end

    final $display("MASE_TB_MEM words=%0d first=%0d last=%0d", words, first, last);
endmodule
