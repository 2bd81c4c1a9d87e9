// Testbench stream sink: accepts beats with random back-pressure (+bp=<percent> of cycles not ready),
// writes each beat as hex to <dir>/<NAME>.out, and is done after +<NAME>_n=<beats> beats.
module mx_tb_sink #(
    parameter int    WIDTH = 8,
    parameter string NAME  = "out",
    parameter int    SALT  = 7
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [WIDTH-1:0] in_data,
    input  logic             in_valid,
    output logic             in_ready,
    output logic             done,
    output int               first_cycle,
    output int               last_cycle
);
    int n, count, bp, fd, cycle, seed;
    logic [31:0] rng;
    string dir;

    initial begin
        if (!$value$plusargs("dir=%s", dir)) dir = ".";
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        rng = (32'(seed) * 32'h9E3779B1) ^ (32'(SALT) * 32'h85EBCA6B) ^ 32'h1234567 | 32'h1;
        if (!$value$plusargs("bp=%d", bp)) bp = 0;
        if (!$value$plusargs({NAME, "_n=%d"}, n)) n = 0;
        fd = $fopen({dir, "/", NAME, ".out"}, "w");
        if (fd == 0) $fatal(1, "cannot open %s/%s.out", dir, NAME);
    end

    function automatic logic [31:0] xorshift(input logic [31:0] x);
        logic [31:0] y;
        y = x ^ (x << 13);
        y = y ^ (y >> 17);
        return y ^ (y << 5);
    endfunction

    always_ff @(posedge clk) begin
        if (rst) begin
            in_ready    <= 1'b0;
            count       <= 0;
            cycle       <= 0;
            first_cycle <= -1;
            last_cycle  <= -1;
        end else begin
            cycle    <= cycle + 1;
            rng      <= xorshift(rng);
            in_ready <= (rng % 100) >= 32'(bp);
            if (in_valid && in_ready) begin
                $fwrite(fd, "%h\n", in_data);
                count <= count + 1;
                if (first_cycle < 0) first_cycle <= cycle;
                last_cycle <= cycle;
            end
        end
    end
    assign done = count >= n;

    final $fclose(fd);
endmodule
