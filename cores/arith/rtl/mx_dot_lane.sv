// Block dot product pipeline without handshake (advances when ce): PAR element pairs per beat,
// exact products, and the exact block sum S over the beats up to `in_last`. Latency 2 ce-cycles;
// out_valid pulses (under ce) with the sum of each block. Used by mx_dot_product and mx_linear.
module mx_dot_lane #(
    parameter int PAR     = 4,
    parameter int A_WIDTH = 4,
    parameter int A_EBITS = 0,
    parameter int B_WIDTH = 4,
    parameter int B_EBITS = 0,
    parameter int SUM_W   = 32
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

    genvar g;
    generate
        for (g = 0; g < PAR; g++) begin : g_lane
            mx_elem_to_int #(.WIDTH(A_WIDTH), .EBITS(A_EBITS)) dec_a (.code(in_a[g*A_WIDTH +: A_WIDTH]), .value(ai[g]));
            mx_elem_to_int #(.WIDTH(B_WIDTH), .EBITS(B_EBITS)) dec_b (.code(in_b[g*B_WIDTH +: B_WIDTH]), .value(bi[g]));
            always_ff @(posedge clk) if (ce) prod[g] <= PW'(ai[g] * bi[g]);
        end
    endgenerate

    always_comb begin
        tree = '0;
        for (int i = 0; i < PAR; i++) tree = tree + SUM_W'(prod[i]);
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            v1        <= 1'b0;
            last1     <= 1'b0;
            out_valid <= 1'b0;
            partial   <= '0;
        end else if (ce) begin
            v1        <= in_valid;
            last1     <= in_last;
            out_valid <= v1 && last1;
            if (v1) begin
                if (last1) begin
                    out_sum <= partial + tree;
                    partial <= '0;
                end else begin
                    partial <= partial + tree;
                end
            end
        end
    end
endmodule
