// Testbench stream source: plays the words of <dir>/<NAME>.hex ($readmemh format, one beat a line)
// on a valid/ready port, inserting random idle cycles (+stall=<percent>). Holds data while stalled.
module mx_tb_source #(
    parameter int    WIDTH     = 8,
    parameter int    MAX_BEATS = 65536,
    parameter string NAME      = "in",
    parameter int    SALT      = 3
) (
    input  logic             clk,
    input  logic             rst,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready,
    output logic             done,
    output int               first_cycle,
    output int               last_cycle
);
    logic [WIDTH-1:0] mem [MAX_BEATS];
    int n, idx, stall, cycle, seed;
    logic [31:0] rng;
    string dir, path;

    initial begin
        if (!$value$plusargs("dir=%s", dir)) dir = ".";
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        rng = (32'(seed) * 32'h9E3779B1) ^ (32'(SALT) * 32'h85EBCA6B) ^ 32'h1234567 | 32'h1;
        if (!$value$plusargs("stall=%d", stall)) stall = 0;
        path = {dir, "/", NAME, ".hex"};
        n = 0;
        if (!$value$plusargs({NAME, "_n=%d"}, n)) n = 0;
        if (n > MAX_BEATS) $fatal(1, "%s: %0d beats exceed MAX_BEATS=%0d", NAME, n, MAX_BEATS);
        if (n > 0) $readmemh(path, mem, 0, n - 1);
    end

    function automatic logic [31:0] xorshift(input logic [31:0] x);
        logic [31:0] y;
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        return y ^ (y << 5);
    endfunction

    always_ff @(posedge clk) begin
        if (rst) begin
            out_valid   <= 1'b0;
            idx         <= 0;
            cycle       <= 0;
            first_cycle <= -1;
            last_cycle  <= -1;
        end else begin
            cycle <= cycle + 1;
            rng   <= xorshift(rng);
            if (out_valid && out_ready) begin
                if (first_cycle < 0) first_cycle <= cycle;
                last_cycle <= cycle;
            end
            if (!out_valid || out_ready) begin
                if (idx < n && (rng % 100) >= 32'(stall)) begin
                    out_valid <= 1'b1;
                    out_data  <= mem[idx];
                    idx       <= idx + 1;
                end else begin
                    out_valid <= 1'b0;
                end
            end
        end
    end
    assign done = (idx == n) && !out_valid;
endmodule
