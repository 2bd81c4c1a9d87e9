// Signed product p = a * b (exact in P_W >= A_W + B_W bits, or its low P_W bits) in LAT = 3 or 4
// register stages, every register enabled by ce. Both operands are cut into chunks of CH bits: unsigned
// chunks from the bottom, the signed top chunk at most CH + 1 bits. Stage 1 registers every chunk
// product, stage 2 the sum of each row (one chunk of a times all of b, RW bits), stage 3 the sum of the
// rows (LAT 3), or for LAT 4 the rows' low halves and high halves summed apart, then stage 4 adds the
// two (no adder longer than about P_W / 2 bits: for wide products on slow carry chains, the iCE40);
// LAT 5 sums the rows in pairs first (stage 3), then as LAT 4 (stages 4 and 5).
// CH = 17 (default) fits each chunk product in an 18x18 signed multiplier (ECP5 MULT18X18D, Xilinx
// DSP). Where products become LUTs (iCE40: synth_ice40 keeps them in logic) an 18x18 chunk product is
// one long combinational path; the flows for those parts define MASE_MUL_CHUNK (e.g. 8: 9x9 chunk
// products), which CH = 0 (the default) takes. The result is the same for every CH.
module mx_mul_pipe #(
    parameter int A_W = 20,
    parameter int B_W = 18,
    parameter int P_W = A_W + B_W,
    parameter int CH  = 0,  // chunk bits, 2..17; 0: `MASE_MUL_CHUNK if defined, else 17
    parameter int LAT = 3   // 3; 4: the sum of the rows in two stages (half-width adders); 5: rows paired first
) (
    input  logic                  clk,
    input  logic                  ce,
    input  logic signed [A_W-1:0] a,
    input  logic signed [B_W-1:0] b,
    output logic signed [P_W-1:0] p
);
`ifdef MASE_MUL_CHUNK
    localparam int CH_DEF = `MASE_MUL_CHUNK;
`else
    localparam int CH_DEF = 17;
`endif
    localparam int C  = (CH > 0) ? CH : CH_DEF;
    localparam int NA = (A_W - 2) / C + 1;
    localparam int NB = (B_W - 2) / C + 1;
    localparam int PP = 2 * C + 3;                     // a chunk product: (C+1) x (C+1) signed bits
    localparam int RW = (C + 1 + B_W < P_W) ? C + 1 + B_W : P_W;  // a row: a chunk of a times b

    generate
        if (LAT < 3 || LAT > 5) begin : g_bad_lat
            $error("mx_mul_pipe: LAT is 3, 4 or 5");
        end
        if (C < 2 || C > 17) begin : g_bad_ch
            $error("mx_mul_pipe: the chunk width CH (or MASE_MUL_CHUNK) must be in 2..17");
        end
    endgenerate

    /* verilator lint_off UNUSEDSIGNAL */  // the sign extension above the top chunk
    logic signed [A_W+C:0] aw;  // sign-extended, so that every chunk is a slice
    logic signed [B_W+C:0] bw;
    /* verilator lint_on UNUSEDSIGNAL */
    assign aw = (A_W + C + 1)'(a);
    assign bw = (B_W + C + 1)'(b);

    logic [NA*NB*PP-1:0] pp;
    logic [NA*RW-1:0]    rows;
    genvar i, j;
    generate
        for (i = 0; i < NA; i++) begin : g_a
            for (j = 0; j < NB; j++) begin : g_b
                logic signed [C:0] ca, cb;
                // C-bit unsigned chunks, the top one signed (its (C+1)-bit slice of the extended operand)
                assign ca = (i == NA - 1) ? aw[C*i +: C+1] : $signed({1'b0, aw[C*i +: C]});
                assign cb = (j == NB - 1) ? bw[C*j +: C+1] : $signed({1'b0, bw[C*j +: C]});
                always_ff @(posedge clk) if (ce) pp[(i*NB + j)*PP +: PP] <= PP'(ca) * PP'(cb);
            end
        end
    endgenerate
    always_ff @(posedge clk) if (ce) begin
        for (int r = 0; r < NA; r++) begin
            logic signed [RW-1:0] acc;
            acc = '0;
            for (int c = 0; c < NB; c++) acc = acc + (RW'($signed(pp[(r*NB + c)*PP +: PP])) <<< (C * c));
            rows[r*RW +: RW] <= acc;
        end
    end
    // the terms of the last sum: the rows, or for LAT 5 the rows summed in pairs (one more stage)
    localparam int NT = (LAT == 5) ? (NA + 1) / 2 : NA;
    localparam int TW = (LAT != 5) ? RW : (RW + C + 1 < P_W) ? RW + C + 1 : P_W;
    localparam int TS = (LAT == 5) ? 2 * C : C;  // the weight step between terms
    logic [NT*TW-1:0] terms;
    generate
        if (LAT == 5) begin : g_pairs
            always_ff @(posedge clk) if (ce) begin
                for (int k = 0; k < NT; k++) begin
                    logic signed [TW-1:0] t;
                    t = TW'($signed(rows[2*k*RW +: RW]));
                    if (2 * k + 1 < NA) t = t + (TW'($signed(rows[(2*k+1)*RW +: RW])) <<< C);
                    terms[k*TW +: TW] <= t;
                end
            end
        end else begin : g_rows
            assign terms = rows;
        end
        if (LAT == 3) begin : g_lat3
            always_ff @(posedge clk) if (ce) begin  // the rows summed in pairs first (depth 2 for NA <= 4)
                logic signed [P_W-1:0] sum;
                sum = '0;
                for (int r = 0; r < NT; r += 2) begin
                    logic signed [P_W-1:0] pair;
                    pair = P_W'($signed(terms[r*TW +: TW])) <<< (TS * r);
                    if (r + 1 < NT) pair = pair + (P_W'($signed(terms[(r+1)*TW +: TW])) <<< (TS * (r + 1)));
                    sum = sum + pair;
                end
                p <= sum;
            end
        end else begin : g_split
            // the terms' bits below SPLIT summed apart from those above (adders of about P_W / 2 bits
            // instead of one of P_W), then in the last stage the high sum plus the low sum's carries
            localparam int SPLIT = P_W / 2;
            localparam int LW    = SPLIT + $clog2(NT + 1);  // NT values below 2**SPLIT
            localparam int HW    = P_W - SPLIT;
            logic [LW-1:0]        lo3;
            logic signed [HW-1:0] hi3;
            always_ff @(posedge clk) if (ce) begin
                logic [LW-1:0]        lo;
                logic signed [HW-1:0] hi;
                lo = '0;
                hi = '0;
                for (int r = 0; r < NT; r++) begin
                    logic signed [P_W-1:0] v;  // the term at its weight, mod 2**P_W
                    v  = P_W'($signed(terms[r*TW +: TW])) <<< (TS * r);
                    lo = lo + LW'(v[SPLIT-1:0]);
                    hi = hi + $signed(v[P_W-1:SPLIT]);
                end
                lo3 <= lo;
                hi3 <= hi;
            end
            always_ff @(posedge clk) if (ce) p <= {hi3 + HW'(lo3 >> SPLIT), lo3[SPLIT-1:0]};
        end
    endgenerate
endmodule
