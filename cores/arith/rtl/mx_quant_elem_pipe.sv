// mx_quant_elem in a 5-stage pipeline (advances when ce; latency 5 ce-cycles, one value per cycle):
// the same codes as mx_quant_elem for every input (mase/golden/CONTRACT.md), registered.
// mxint (EBITS = 0), with p = shared + 1 - IN_LSB clamped to [0, IN_W + WIDTH]:
//   0. value and p registered (the value often comes straight from a block RAM)
//   1. |value|, sign
//   2. {|value|, WIDTH-1 zeros, 0} >> p with the shifted-out bits ORed into a sticky bit (two
//      stages: p's low 3 bits, then the rest): the low bits are the round bit and the truncated
//      magnitude, the bits from WIDTH up flag saturation
//   3. overflow OR, round half to even, saturation to 2**(WIDTH-1) - 1, sign -> code
// BLOCK_MAX = 1 (mxint): the caller guarantees |value| < 2**p, i.e. `shared` is the exponent of a
// block maximum >= |value| (mx_quantize's MX path, where the clamp to [-127, 127] never binds): the
// shifted magnitude has no overflow bits, so stage 2a keeps only the WIDTH + 7 bits at p's coarse
// position (and the OR of those below), stage 2b shifts that window by p's low 3 bits; the same codes.
// Minifloat (EBITS > 0): the value and exponent registered twice, mx_quant_elem, then three registers.
// SHORT = 1: latency 3 ce-cycles (the same codes): mxint drops the registers of stages 0 and 1 (value,
// clamped shift, magnitude and sign computed straight from the inputs into stage 2a), minifloat keeps
// one input register and one after mx_quant_elem. For clocks that allow the longer paths (mx_quantize SHORT).
module mx_quant_elem_pipe #(
    parameter int IN_W      = 32,
    parameter int IN_LSB    = -20,
    parameter int WIDTH     = 4,
    parameter int EBITS     = 0,
    parameter int BLOCK_MAX = 0,  // 1: |value| < 2**(shared + 1 - IN_LSB) (a block maximum's exponent)
    parameter int SIGN_MAG  = 0,  // 1 (mxint): `value` is {sign, |value| below its top bit}; -2**(IN_W-1) is {1, zeros}
    parameter int SHORT     = 0   // 1: 3 stages instead of 5 (stages 0 and 1 combinational)
) (
    input  logic                    clk,
    input  logic                    ce,
    input  logic signed [IN_W-1:0]  value,
    input  logic signed [8:0]       shared,
    output logic        [WIDTH-1:0] code
);
    generate
        if (EBITS == 0) begin : g_int
            localparam int EX   = IN_W + WIDTH;       // {mag, WIDTH-1 zeros, round position}
            localparam int PMAX = IN_W + WIDTH;       // beyond: everything shifted out
            localparam int PW   = $clog2(PMAX + 1);
            localparam int TW   = WIDTH - 1;          // magnitude bits of a code
            localparam logic [TW-1:0] MAXC = {TW{1'b1}};
            localparam int OFF  = 1 - IN_LSB;         // p = shared + OFF

            logic [IN_W-1:0]     mag_a;
            logic signed [IN_W-1:0] v_0;
            logic [PW-1:0]       p_0;
            logic                neg_a, neg_b, rnd_b, stk_b, up, sat, st;
            logic [PW-1:0]       p_a;
            logic [TW-1:0]       t_b, m;
            logic [EX-WIDTH-1:0] hi_b;
            logic [PW-1:0]       ps;  // shared + OFF where it is in range
            logic [EX-1:0]       y, y2;
            logic                st2;

            // stage 0: value, clamped shift; stage 1: magnitude, sign
            // the clamp compares shared with constants, beside the addition
            logic plo, phi;
            assign ps  = PW'(12'(shared) + 12'(OFF));
            assign plo = 12'(shared) < 12'(-OFF);
            assign phi = 12'(shared) > 12'(PMAX - OFF);
            logic [PW-1:0]       p_c;
            always_comb begin
                if (plo) p_c = '0;
                else if (phi) p_c = PW'(PMAX);
                else p_c = ps;
            end
            if (SHORT != 0) begin : g_short_in
                // stages 0 and 1 without registers: the shift and the magnitude go straight into stage 2a
                assign v_0 = value;
                assign p_0 = p_c;
                assign p_a = p_0;
                assign neg_a = v_0[IN_W-1];
                if (SIGN_MAG != 0) begin : g_sm
                    assign mag_a = {v_0[IN_W-1] && v_0[IN_W-2:0] == '0, v_0[IN_W-2:0]};
                end else begin : g_tc
                    assign mag_a = v_0[IN_W-1] ? IN_W'(-v_0) : IN_W'(v_0);
                end
            end else begin : g_long_in
                always_ff @(posedge clk) begin
                    if (ce) begin
                        v_0 <= value;
                        p_0 <= p_c;
                        if (SIGN_MAG != 0) begin  // sign and magnitude arrive (mx_quantize: negated once, before its FIFO)
                            neg_a <= v_0[IN_W-1];
                            mag_a <= {v_0[IN_W-1] && v_0[IN_W-2:0] == '0, v_0[IN_W-2:0]};
                        end else begin
                            neg_a <= v_0[IN_W-1];
                            mag_a <= v_0[IN_W-1] ? IN_W'(-v_0) : IN_W'(v_0);
                        end
                        p_a   <= p_0;
                    end
                end
            end

            // stages 2a, 2b: logarithmic right shift collecting a sticky bit, by p's low KS bits
            // then by its high bits (split for the iCE40's slower LUTs)
            localparam int KS = (PW > 3) ? 3 : PW;
            logic           st_m, neg_m;
            logic [PW-1:0]  p_m;
            if (BLOCK_MAX != 0 && PW > KS) begin : g_win
                // {|value|, WIDTH zeros} < 2**(p + WIDTH): at p's coarse position c = p >> KS the bits
                // from c*2**KS up fit in WIDTH + 2**KS - 1; the bits below only make the sticky bit
                localparam int CU  = 1 << KS;
                localparam int WN  = WIDTH + CU - 1;
                localparam int NCH = PMAX / CU + 1;          // coarse positions 0 .. PMAX >> KS
                localparam int XW  = NCH * CU + WN;
                logic [XW-1:0]     xz;
                logic [WN-1:0]     win, win_m;
                logic [NCH-1:0]    gor;
                logic [PW-KS-1:0]  ph;
                logic [KS-1:0]     pl;
                assign xz = XW'({mag_a, {WIDTH{1'b0}}});
                assign ph = p_a[PW-1:KS];
                always_comb begin
                    win = '0;
                    st  = 1'b0;
                    for (int c = 0; c < NCH; c++) begin
                        gor[c] = |xz[c*CU +: CU];
                        if (32'(ph) == c) win = xz[c*CU +: WN];
                        if (32'(ph) > c) st = st | gor[c];
                    end
                end
                always_ff @(posedge clk) begin
                    if (ce) begin
                        win_m <= win;
                        st_m  <= st;
                        p_m   <= p_a;
                        neg_m <= neg_a;
                    end
                end
                assign pl = p_m[KS-1:0];
                always_comb begin
                    y2  = EX'(WIDTH'(win_m >> pl));  // the bits above are 0 (BLOCK_MAX)
                    st2 = st_m | (|(win_m & ((WN'(1) << pl) - WN'(1))));
                    y   = '0;
                end
                logic unused_win;
                assign unused_win = ^{p_m[PW-1:KS], y};
            end else begin : g_shift
                logic [EX-1:0]  y_m;
                always_comb begin
                    y  = {mag_a, {WIDTH{1'b0}}};
                    st = 1'b0;
                    for (int k = 0; k < KS; k++) begin
                        if (p_a[k]) begin
                            st = st | (|(y & ((EX'(1) << (1 << k)) - EX'(1))));
                            y  = y >> (1 << k);
                        end
                    end
                end
                always_ff @(posedge clk) begin
                    if (ce) begin
                        y_m   <= y;
                        st_m  <= st;
                        p_m   <= p_a;
                        neg_m <= neg_a;
                    end
                end
                always_comb begin
                    y2  = y_m;
                    st2 = st_m;
                    for (int k = KS; k < PW; k++) begin
                        if (p_m[k]) begin
                            st2 = st2 | (|(y2 & ((EX'(1) << (1 << k)) - EX'(1))));
                            y2  = y2 >> (1 << k);
                        end
                    end
                end
            end
            always_ff @(posedge clk) begin
                if (ce) begin
                    neg_b <= neg_m;
                    rnd_b <= y2[0];
                    t_b   <= y2[WIDTH-1:1];
                    hi_b  <= y2[EX-1:WIDTH];
                    stk_b <= st2;
                end
            end

            // stage 3: round half to even, saturate, sign
            always_comb begin
                up  = rnd_b && (stk_b || t_b[0]);
                sat = (|hi_b) || (up && t_b == MAXC);
                m   = sat ? MAXC : t_b + TW'(up);
            end
            always_ff @(posedge clk) if (ce) code <= neg_b ? -{1'b0, m} : {1'b0, m};
        end else begin : g_fp
            if (SIGN_MAG != 0) begin : g_bad
                $error("mx_quant_elem_pipe: SIGN_MAG needs mxint (EBITS = 0)");
            end
            logic signed [IN_W-1:0] v_0, v_a;
            logic signed [8:0]      s_0, s_a;
            logic [WIDTH-1:0]       c, c_b, c_c;
            mx_quant_elem #(.IN_W(IN_W), .IN_LSB(IN_LSB), .WIDTH(WIDTH), .EBITS(EBITS)) qe (
                .value(v_a), .shared(s_a), .code(c));
            if (SHORT != 0) begin : g_short_fp
                // input registers, mx_quant_elem, two registers
                assign v_a = v_0;
                assign s_a = s_0;
                assign c_c = c_b;
            end else begin : g_long_fp
                always_ff @(posedge clk) begin
                    if (ce) begin
                        v_a <= v_0;
                        s_a <= s_0;
                        c_c <= c_b;
                    end
                end
            end
            always_ff @(posedge clk) begin
                if (ce) begin
                    v_0  <= value;
                    s_0  <= shared;
                    c_b  <= c;
                    code <= c_c;
                end
            end
        end
    endgenerate
endmodule
