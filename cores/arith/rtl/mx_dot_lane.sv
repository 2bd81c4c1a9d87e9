// Block dot product pipeline without handshake (advances when ce): PAR element pairs per beat,
// exact products, and the exact block sum S over the beats up to `in_last`. Latency 2 ce-cycles
// (TREE_REG = 0) or 3 (TREE_REG = 1: the products are summed in groups of 4 into registers before
// the rest of the adder tree and the block accumulation), plus 1 with IN_REG = 1 (operands
// registered before the multipliers, e.g. behind a block RAM); out_valid pulses (under ce) with the sum
// of each block. Used by mx_dot_product and mx_linear.
// DSP_PACK = 1 (or -1 with `MASE_DSP_PACK defined, as the synth_xcup targets do): narrow products
// (A_IW + B_IW <= 8 bits, which Yosys leaves in LUTs) are computed two at a time on one wider
// multiplier, i.e. one DSP48E2: (a0 + a1*2**D)(b1 + b0*2**D) + 2**(D-1), D = A_IW + B_IW + 1, holds
// a0*b0 + a1*b1 exactly in its bits [D +: D] (the low product is below 2**(D-2) in magnitude, the
// offset rounds it away). Same sums, same latency.
module mx_dot_lane #(
    parameter int PAR     = 4,
    parameter int A_WIDTH = 4,
    parameter int A_EBITS = 0,
    parameter int B_WIDTH = 4,
    parameter int B_EBITS = 0,
    parameter int SUM_W   = 32,
    parameter int TREE_REG = 0,
    parameter int IN_REG   = 0,  // 1: in_* registered before the multipliers (+1 latency)
    parameter int DSP_PACK = 0   // 1: pairs of narrow products share one multiplier; -1: `MASE_DSP_PACK
) (
    input  logic                      clk,
    input  logic                      rst,
    input  logic                      ce,
    input  logic                      in_valid,
    input  logic                      in_last,
    input  logic [PAR*A_WIDTH-1:0]    in_a,
    input  logic [PAR*B_WIDTH-1:0]    in_b,
    output logic                      out_valid,
    output logic signed [SUM_W-1:0]   out_sum
);
    localparam int A_IW = (A_EBITS == 0) ? A_WIDTH : A_WIDTH - A_EBITS + (1 << A_EBITS) - 1;
    localparam int B_IW = (B_EBITS == 0) ? B_WIDTH : B_WIDTH - B_EBITS + (1 << B_EBITS) - 1;
    localparam int PW   = A_IW + B_IW;  // full product: (-2**(n-1))**2 needs the top bit
`ifdef MASE_DSP_PACK
    localparam int PACK_DEF = 1;
`else
    localparam int PACK_DEF = 0;
`endif
    localparam int PACK = (((DSP_PACK < 0) ? PACK_DEF : DSP_PACK) != 0 && PW <= 8 && PAR >= 2) ? 1 : 0;
    localparam int D    = PW + 1;                   // packing distance = width of a sum of two products
    localparam int NPK  = (PACK != 0) ? PAR / 2 : 0;       // packed pairs (an odd last product stays alone)
    localparam int PRW  = PW + PACK;                // register width of a product (or a pair's sum)

    logic signed [A_IW-1:0]  ai [PAR];
    logic signed [B_IW-1:0]  bi [PAR];
    logic signed [PRW-1:0]   prod [PAR];
    logic                    v1, last1;
    logic signed [SUM_W-1:0] tree, partial;

    logic                   r_valid, r_last;
    logic [PAR*A_WIDTH-1:0] r_a;
    logic [PAR*B_WIDTH-1:0] r_b;
    generate
        if (IN_REG == 0) begin : g_in
            assign r_valid = in_valid;
            assign r_last  = in_last;
            assign r_a     = in_a;
            assign r_b     = in_b;
        end else begin : g_in_reg
            always_ff @(posedge clk) begin
                if (rst) r_valid <= 1'b0;
                else if (ce) r_valid <= in_valid;
                if (ce) begin
                    r_last <= in_last;
                    r_a    <= in_a;
                    r_b    <= in_b;
                end
            end
        end
    endgenerate

    genvar g;
    generate
        for (g = 0; g < PAR; g++) begin : g_lane
            mx_elem_to_int #(.WIDTH(A_WIDTH), .EBITS(A_EBITS)) dec_a (.code(r_a[g*A_WIDTH +: A_WIDTH]), .value(ai[g]));
            mx_elem_to_int #(.WIDTH(B_WIDTH), .EBITS(B_EBITS)) dec_b (.code(r_b[g*B_WIDTH +: B_WIDTH]), .value(bi[g]));
            if (g >= 2 * NPK) begin : g_mul
                always_ff @(posedge clk) if (ce) prod[g] <= PRW'(ai[g] * bi[g]);
            end else if (g % 2 == 0) begin : g_pack
                // one bit more than a1*2**D needs: a1 = -2**(A_IW-1) with a0 < 0 is below its range
                logic signed [D+A_IW:0]        pa;
                logic signed [D+B_IW:0]        pb;
                logic signed [2*D+PW+1:0]      pm, pp;
                assign pa = $signed({ai[g+1][A_IW-1], ai[g+1], {D{1'b0}}}) + $signed({{(D+1){ai[g][A_IW-1]}}, ai[g]});
                assign pb = $signed({bi[g][B_IW-1], bi[g], {D{1'b0}}}) + $signed({{(D+1){bi[g+1][B_IW-1]}}, bi[g+1]});
                assign pm = pa * pb;                         // signed, full width
                assign pp = pm + (2*D+PW+2)'(1 << (D - 1));   // same width: no sign question
                always_ff @(posedge clk) if (ce) prod[g] <= pp[D +: PRW];
                logic unused_pp;  // the low product (rounded away) and the high one
                assign unused_pp = ^{pp[2*D+PW+1:D+PRW], pp[D-1:0]};
            end else begin : g_zero
                always_ff @(posedge clk) if (ce) prod[g] <= '0;  // constant: removed by synthesis
            end
        end
    endgenerate

    logic v_t, last_t;  // the beat entering the accumulation
    generate
        if (TREE_REG == 0) begin : g_tree
            always_comb begin
                tree = '0;
                for (int i = 0; i < PAR; i++) tree = tree + SUM_W'(prod[i]);
            end
            assign v_t    = v1;
            assign last_t = last1;
        end else begin : g_tree_reg
            localparam int NG = (PAR + 3) / 4;
            logic signed [SUM_W-1:0] grp [NG], gsum [NG];
            logic                    v2, last2;
            always_ff @(posedge clk) begin
                if (rst) begin
                    v2    <= 1'b0;
                    last2 <= 1'b0;
                end else if (ce) begin
                    v2    <= v1;
                    last2 <= last1;
                end
                if (ce) for (int gi = 0; gi < NG; gi++) grp[gi] <= gsum[gi];
            end
            always_comb begin
                for (int gi = 0; gi < NG; gi++) begin
                    gsum[gi] = '0;
                    for (int i = 4 * gi; i < 4 * gi + 4; i++) if (i < PAR) gsum[gi] = gsum[gi] + SUM_W'(prod[i]);
                end
            end
            always_comb begin
                tree = '0;
                for (int gi = 0; gi < NG; gi++) tree = tree + grp[gi];
            end
            assign v_t    = v2;
            assign last_t = last2;
        end
    endgenerate

    always_ff @(posedge clk) begin
        if (rst) begin
            v1        <= 1'b0;
            last1     <= 1'b0;
            out_valid <= 1'b0;
            partial   <= '0;
        end else if (ce) begin
            v1        <= r_valid;
            last1     <= r_last;
            out_valid <= v_t && last_t;
            if (v_t) begin
                if (last_t) begin
                    out_sum <= partial + tree;
                    partial <= '0;
                end else begin
                    partial <= partial + tree;
                end
            end
        end
    end
endmodule
