// mx_shared_exp in a 3-stage pipeline (advances when ce; latency 3 ce-cycles, one value per cycle):
// clamp(floor(log2 amax) + IN_LSB - EMAX, -127, 127), -127 for amax = 0, as mx_shared_exp.
//   1. per byte of amax: non-zero flag and the position of its leading one (3 bits)
//   2. the position of the leading one: the highest non-zero byte's
//   3. the offset and the clamp (compared on the position, beside the addition)
// COMB = 1: the same three steps without registers (latency 0; `clk` and `ce` unused): a shallower
// circuit than mx_shared_exp's bit-serial priority search (mx_quantize SHORT).
module mx_shared_exp_pipe #(
    parameter int IN_W   = 32,
    parameter int IN_LSB = -20,
    parameter int EMAX   = 0,
    parameter int COMB   = 0
) (
    input  logic                clk,
    input  logic                ce,
    input  logic [IN_W-1:0]     amax,
    output logic signed [8:0]   shared
);
    localparam int NC = (IN_W + 7) / 8;
    localparam int PW = $clog2(NC * 8);

    logic [NC*8-1:0] v;
    logic [NC-1:0]   nz1;
    logic [2:0]      lp [NC];
    logic [2:0]      lp1 [NC];
    localparam int OFF = IN_LSB - EMAX;
    logic [PW-1:0]   p, p2;
    logic            any2, lo, hi;
    logic [8:0]      s;  // the exponent where it is in range

    assign v = (NC * 8)'(amax);

    always_comb begin
        for (int c = 0; c < NC; c++) begin
            lp[c] = '0;
            for (int i = 0; i < 8; i++) if (v[c*8 + i]) lp[c] = 3'(i);
        end
    end

    logic [NC-1:0]   nz;
    always_comb for (int c = 0; c < NC; c++) nz[c] = |v[c*8 +: 8];
    logic [8:0]      sh_c;  // the clamped exponent, before the output register

    always_comb begin
        p = '0;
        for (int c = 0; c < NC; c++) if (nz1[c]) p = PW'(c * 8) | PW'(lp1[c]);
    end


    assign s  = 9'(12'(p2) + 12'(OFF));
    assign lo = !any2 || (12'(p2) < 12'(-127 - OFF) && -127 - OFF > 0);
    assign hi = (127 - OFF < 0) || (12'(p2) > 12'(127 - OFF) && 127 - OFF >= 0);
    always_comb begin
        if (lo) sh_c = 9'h181;  // -127
        else if (hi) sh_c = 9'd127;
        else sh_c = s;
    end

    generate
        if (COMB != 0) begin : g_comb
            assign nz1 = nz;
            for (genvar c = 0; c < NC; c++) begin : g_lp
                assign lp1[c] = lp[c];
            end
            assign p2 = p;
            assign any2 = |nz1;
            assign shared = $signed(sh_c);
            logic unused_c;
            assign unused_c = ^{clk, ce};
        end else begin : g_pipe
            always_ff @(posedge clk) begin
                if (ce) begin
                    nz1    <= nz;
                    for (int c = 0; c < NC; c++) lp1[c] <= lp[c];
                    p2     <= p;
                    any2   <= |nz1;
                    shared <= $signed(sh_c);
                end
            end
        end
    endgenerate
endmodule
