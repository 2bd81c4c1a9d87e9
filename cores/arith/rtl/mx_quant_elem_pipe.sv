// mx_quant_elem in a 5-stage pipeline (advances when ce; latency 5 ce-cycles, one value per cycle):
// the same codes as mx_quant_elem for every input (mase/golden/CONTRACT.md), registered.
// mxint (EBITS = 0), with p = shared + 1 - IN_LSB clamped to [0, IN_W + WIDTH]:
//   0. value and p registered (the value often comes straight from a block RAM)
//   1. |value|, sign
//   2. {|value|, WIDTH-1 zeros, 0} >> p with the shifted-out bits ORed into a sticky bit (two
//      stages: p's low 3 bits, then the rest): the low bits are the round bit and the truncated
//      magnitude, the bits from WIDTH up flag saturation
//   3. overflow OR, round half to even, saturation to 2**(WIDTH-1) - 1, sign -> code
// Minifloat (EBITS > 0): the value and exponent registered twice, mx_quant_elem, then three registers.
module mx_quant_elem_pipe #(
    parameter int IN_W   = 32,
    parameter int IN_LSB = -20,
    parameter int WIDTH  = 4,
    parameter int EBITS  = 0
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
            always_ff @(posedge clk) begin
                if (ce) begin
                    v_0 <= value;
                    if (plo) p_0 <= '0;
                    else if (phi) p_0 <= PW'(PMAX);
                    else p_0 <= ps;
                    neg_a <= v_0[IN_W-1];
                    mag_a <= v_0[IN_W-1] ? IN_W'(-v_0) : IN_W'(v_0);
                    p_a   <= p_0;
                end
            end

            // stages 2a, 2b: logarithmic right shift collecting a sticky bit, by p's low KS bits
            // then by its high bits (split for the iCE40's slower LUTs)
            localparam int KS = (PW > 3) ? 3 : PW;
            logic [EX-1:0]  y_m;
            logic           st_m, neg_m;
            logic [PW-1:0]  p_m;
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
            logic signed [IN_W-1:0] v_0, v_a;
            logic signed [8:0]      s_0, s_a;
            logic [WIDTH-1:0]       c, c_b, c_c;
            mx_quant_elem #(.IN_W(IN_W), .IN_LSB(IN_LSB), .WIDTH(WIDTH), .EBITS(EBITS)) qe (
                .value(v_a), .shared(s_a), .code(c));
            always_ff @(posedge clk) begin
                if (ce) begin
                    v_0  <= value;
                    s_0  <= shared;
                    v_a  <= v_0;
                    s_a  <= s_0;
                    c_b  <= c;
                    c_c  <= c_b;
                    code <= c_c;
                end
            end
        end
    endgenerate
endmodule
