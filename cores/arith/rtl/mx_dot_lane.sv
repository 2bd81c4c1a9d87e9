// Block dot product pipeline without handshake (advances when ce): PAR element pairs per beat,
// exact products, and the exact block sum S over the beats up to `in_last`. Latency 2 ce-cycles
// (TREE_REG = 0) or 3 (TREE_REG = 1: the products are summed in groups of 4 into registers before
// the rest of the adder tree and the block accumulation), plus 1 with IN_REG = 1 (operands
// registered before the multipliers, e.g. behind a block RAM); out_valid pulses (under ce) with the sum
// of each block. Used by mx_dot_product and mx_linear.
module mx_dot_lane #(
    parameter int PAR     = 4,
    parameter int A_WIDTH = 4,
    parameter int A_EBITS = 0,
    parameter int B_WIDTH = 4,
    parameter int B_EBITS = 0,
    parameter int SUM_W   = 32,
    parameter int TREE_REG = 0,
    parameter int IN_REG   = 0   // 1: in_* registered before the multipliers (+1 latency)
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

    logic signed [A_IW-1:0]  ai [PAR];
    logic signed [B_IW-1:0]  bi [PAR];
    logic signed [PW-1:0]    prod [PAR];
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
            always_ff @(posedge clk) if (ce) prod[g] <= PW'(ai[g] * bi[g]);
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
