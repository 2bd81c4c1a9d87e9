// One fixed-point value (IN_W signed bits at 2**IN_LSB) -> an MX element code under the shared
// exponent `shared` (-127..127): round half to even onto the element grid, saturate, keep the sign.
// mxint (EBITS = 0): two's complement Q1.(WIDTH-2). Minifloat: OCP bit pattern (E4M3/E5M2 ranges).
// Combinational. See mase/golden/CONTRACT.md.
module mx_quant_elem #(
    parameter int IN_W   = 32,
    parameter int IN_LSB = -20,
    parameter int WIDTH  = 4,
    parameter int EBITS  = 0
) (
    input  logic signed [IN_W-1:0]  value,
    input  logic signed [8:0]       shared,
    output logic        [WIDTH-1:0] code
);
    localparam int M      = WIDTH - 1 - EBITS;
    localparam int BIAS   = (EBITS == 0) ? 0 : (1 << (EBITS - 1)) - 1;
    localparam int EMIN   = 1 - BIAS;
    localparam int TOP    = (1 << EBITS) - 1;
    localparam int EMAX   = (EBITS == 0) ? 0 : ((EBITS == 5) ? TOP - 1 : TOP) - BIAS;
    localparam int MAXM   = ((EBITS == 4) && (M == 3)) ? (1 << M) - 2 : (1 << M) - 1;
    localparam int ELSB   = (EBITS == 0) ? -(WIDTH - 2) : EMIN - M;
    localparam int QW     = IN_W + WIDTH + 2;  // room for an exact left shift before saturation
    localparam int MAXC   = (1 << (WIDTH - 1)) - 1;

    logic        [IN_W-1:0] mag;
    logic                   neg;
    int                     r;       // right shift of |value| onto the element grid (<= 0: left)
    logic        [QW-1:0]   q;

    // round half to even of m / 2**sh (sh >= 1), or m << -sh, in QW bits
    function automatic [QW-1:0] rne(input [IN_W-1:0] m, input integer sh);
        reg [QW-1:0] t;
        reg [QW-1:0] rest;
        integer      s;
        begin
            if (sh <= 0) begin
                s   = (-sh > WIDTH + 1) ? WIDTH + 1 : -sh;
                rne = QW'(m) << s;
            end else begin
                s    = (sh > IN_W + 1) ? IN_W + 1 : sh;
                t    = QW'(m) >> s;
                rest = QW'(m) & ((QW'(1) << s) - QW'(1));
                if ((rest > (QW'(1) << (s - 1))) || ((rest == (QW'(1) << (s - 1))) && t[0])) t = t + QW'(1);
                rne = t;
            end
        end
    endfunction

    // floor(log2 m), -1 for m = 0
    function automatic integer msb(input [IN_W-1:0] m);
        integer i;
        begin
            msb = -1;
            for (i = 0; i < IN_W; i = i + 1) if (m[i]) msb = i;
        end
    endfunction

    always_comb begin
        neg = value[IN_W-1];
        mag = neg ? IN_W'(-value) : IN_W'(value);
    end

    generate
        if (EBITS == 0) begin : g_int
            always_comb begin
                r  = 32'(shared) + ELSB - IN_LSB;
                q  = rne(mag, r);
                if (q > QW'(MAXC)) q = QW'(MAXC);
                code = neg ? WIDTH'(-q) : WIDTH'(q);
            end
        end else begin : g_fp
            int          t, e;
            logic        up;
            logic [EBITS-1:0] biased;
            logic [M-1:0]     mant_r;  // rounded mantissa before saturation
            logic             normal;
            logic             sat;     // beyond the largest finite code
            always_comb begin
                t = msb(mag);
                if (t < EMIN + 32'(shared) - IN_LSB) t = EMIN + 32'(shared) - IN_LSB;
                e = t + IN_LSB - 32'(shared);
                r = t - M;
                q = rne(mag, r);
                up = q[M+1];  // carry into the next binade
                if (up) begin
                    q = q >> 1;
                    e = e + 1;
                end
                normal = q[M];
                mant_r = q[M-1:0];
            end
            // Only E4M3 reserves a mantissa at the top binade (S.1111.111 is NaN); elsewhere every
            // mantissa is finite there and the comparison would be constant.
            if (MAXM < (1 << M) - 1) begin : g_cap
                assign sat = (e > EMAX) || ((e == EMAX) && normal && (32'(mant_r) > MAXM));
            end else begin : g_full
                assign sat = (e > EMAX);
            end
            always_comb begin
                biased = normal ? EBITS'(e + BIAS) : '0;
                if (mag == '0) code = '0;
                else if (sat) code = {neg, EBITS'(EMAX + BIAS), M'(MAXM)};
                else code = {neg, biased, mant_r};
            end
        end
    endgenerate
endmodule
