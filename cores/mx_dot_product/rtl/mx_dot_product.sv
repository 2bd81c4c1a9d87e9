// MX block dot product: two blocks of K elements, PAR element pairs per beat (K/PAR beats per
// block), into the exact integer sum S and the exponent byte sum E = s_a + s_b of each block
// (value = S * 2**(E - 254 + LSB_A + LSB_B); see mase/golden/CONTRACT.md).
//   in_data  = {b_scale[7:0], a_scale[7:0], b elements (PAR x B_WIDTH), a elements (PAR x A_WIDTH)}
//              (lane j in the j-th field from bit 0; scales taken from the block's first beat)
//   out_data = {E[8:0], S[SUM_W-1:0]}, one beat per block
// Latency 3 cycles after the block's last beat (products, sums of 4 products, block sum); one beat
// per cycle.
module mx_dot_product #(
    parameter int PAR     = 4,
    parameter int K       = 32,
    parameter int A_WIDTH = 4,
    parameter int A_EBITS = 0,
    parameter int B_WIDTH = 4,
    parameter int B_EBITS = 0,
    parameter int A_IW    = (A_EBITS == 0) ? A_WIDTH : A_WIDTH - A_EBITS + (1 << A_EBITS) - 1,
    parameter int B_IW    = (B_EBITS == 0) ? B_WIDTH : B_WIDTH - B_EBITS + (1 << B_EBITS) - 1,
    parameter int SUM_W   = A_IW + B_IW + $clog2(K),
    parameter int IN_W    = PAR * (A_WIDTH + B_WIDTH) + 16,
    parameter int OUT_W   = SUM_W + 9
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [IN_W-1:0]  in_data,
    input  logic             in_valid,
    output logic             in_ready,
    output logic [OUT_W-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready
);
    localparam int BPB = K / PAR;
    localparam int CW  = (BPB > 1) ? $clog2(BPB) : 1;

    logic                    ce, first, last, v1, last1, v2, last2;
    logic [CW-1:0]           beat;
    logic [8:0]              e_hold, e_beat, e1, e2, e_out;
    logic signed [SUM_W-1:0] s_out;

    assign ce       = !out_valid || out_ready;
    assign in_ready = ce;
    assign first    = beat == '0;
    assign last     = beat == CW'(BPB - 1);
    assign e_beat   = first ? {1'b0, in_data[IN_W-8 +: 8]} + {1'b0, in_data[IN_W-16 +: 8]} : e_hold;

    always_ff @(posedge clk) begin
        if (rst) begin
            beat  <= '0;
            v1    <= 1'b0;
            last1 <= 1'b0;
            v2    <= 1'b0;
            last2 <= 1'b0;
        end else if (ce) begin
            v1    <= in_valid;
            last1 <= last;
            v2    <= v1;
            last2 <= last1;
            if (in_valid) begin
                beat   <= last ? '0 : beat + 1'b1;
                e_hold <= e_beat;
            end
        end
    end

    // E travels with the block's last beat through the 3-stage lane pipeline
    always_ff @(posedge clk) begin
        if (ce) begin
            if (in_valid && last) e1 <= e_beat;
            if (v1 && last1) e2 <= e1;
            if (v2 && last2) e_out <= e2;
        end
    end

    mx_dot_lane #(.PAR(PAR), .A_WIDTH(A_WIDTH), .A_EBITS(A_EBITS), .B_WIDTH(B_WIDTH), .B_EBITS(B_EBITS),
                  .SUM_W(SUM_W), .TREE_REG(1)) lane (
        .clk, .rst, .ce, .in_valid, .in_last(last),
        .in_a(in_data[0 +: PAR*A_WIDTH]), .in_b(in_data[PAR*A_WIDTH +: PAR*B_WIDTH]),
        .out_valid, .out_sum(s_out));

    assign out_data = {e_out, s_out};
endmodule
