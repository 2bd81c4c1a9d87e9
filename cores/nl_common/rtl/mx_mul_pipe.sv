// Signed product p = a * b (exact in P_W >= A_W + B_W bits, or its low P_W bits) in LAT = 3 register
// stages, every register enabled by ce. Both operands are cut into chunks that fit an 18x18 signed
// multiplier (ECP5 MULT18X18D, Xilinx DSP): 17-bit unsigned chunks from the bottom, the signed top
// chunk at most 18 bits. Stage 1 registers every chunk product, stage 2 the sum of each row (one
// chunk of a times all of b), stage 3 the sum of the rows.
module mx_mul_pipe #(
    parameter int A_W = 20,
    parameter int B_W = 18,
    parameter int P_W = A_W + B_W,
    parameter int LAT = 3  // fixed; a parameter so that users can read it
) (
    input  logic                  clk,
    input  logic                  ce,
    input  logic signed [A_W-1:0] a,
    input  logic signed [B_W-1:0] b,
    output logic signed [P_W-1:0] p
);
    localparam int CH = 17;
    localparam int NA = (A_W - 2) / CH + 1;
    localparam int NB = (B_W - 2) / CH + 1;
    localparam int PP = 37;  // a chunk product: 18 x 18 signed bits

    generate
        if (LAT != 3) begin : g_bad_lat
            $error("mx_mul_pipe: LAT is 3");
        end
    endgenerate

    /* verilator lint_off UNUSEDSIGNAL */  // the sign extension above the top chunk
    logic signed [A_W+17:0] aw;  // sign-extended, so that every chunk is a slice
    logic signed [B_W+17:0] bw;
    /* verilator lint_on UNUSEDSIGNAL */
    assign aw = (A_W + 18)'(a);
    assign bw = (B_W + 18)'(b);

    logic [NA*NB*PP-1:0] pp;
    logic [NA*P_W-1:0]   rows;
    genvar i, j;
    generate
        for (i = 0; i < NA; i++) begin : g_a
            for (j = 0; j < NB; j++) begin : g_b
                logic signed [17:0] ca, cb;
                // 17-bit unsigned chunks, the top one signed (its 18-bit slice of the extended operand)
                assign ca = (i == NA - 1) ? aw[CH*i +: 18] : $signed({1'b0, aw[CH*i +: CH]});
                assign cb = (j == NB - 1) ? bw[CH*j +: 18] : $signed({1'b0, bw[CH*j +: CH]});
                always_ff @(posedge clk) if (ce) pp[(i*NB + j)*PP +: PP] <= PP'(ca) * PP'(cb);
            end
        end
    endgenerate
    always_ff @(posedge clk) if (ce) begin
        for (int r = 0; r < NA; r++) begin
            logic signed [P_W-1:0] acc;
            acc = '0;
            for (int c = 0; c < NB; c++) acc = acc + (P_W'($signed(pp[(r*NB + c)*PP +: PP])) <<< (CH * c));
            rows[r*P_W +: P_W] <= acc;
        end
    end
    always_ff @(posedge clk) if (ce) begin  // the rows summed in pairs first (a tree of depth 2 for NA <= 4)
        logic signed [P_W-1:0] sum;
        sum = '0;
        for (int r = 0; r < NA; r += 2) begin
            logic signed [P_W-1:0] pair;
            pair = $signed(rows[r*P_W +: P_W]) <<< (CH * r);
            if (r + 1 < NA) pair = pair + ($signed(rows[(r+1)*P_W +: P_W]) <<< (CH * (r + 1)));
            sum = sum + pair;
        end
        p <= sum;
    end
endmodule
