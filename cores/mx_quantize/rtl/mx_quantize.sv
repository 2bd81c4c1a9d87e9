// Fixed point -> MX: blocks of K signed values (IN_W bits at 2**IN_LSB), PAR per beat, into MX
// elements (WIDTH bits, EBITS exponent bits, 0 = mxint) and an E8M0 scale per block, by the rule of
// mase/golden/CONTRACT.md (shared exponent from the block maximum, round half to even, saturate).
//   in_data  = PAR values (lane j in bits [j*IN_W +: IN_W])
//   out_data = {scale[7:0], PAR element codes}; every beat of a block carries its scale
// FIXED_SCALE >= 0: fixed-point output (fixed8 baseline), constant scale byte, no block buffer.
// Throughput one beat per cycle. Latency: MX: K/PAR + 3 cycles (the whole block is needed before
// its scale is known; a FIFO of 2K/PAR+ beats keeps the input flowing); fixed: 1 cycle.
module mx_quantize #(
    parameter int PAR         = 4,
    parameter int K           = 32,
    parameter int IN_W        = 32,
    parameter int IN_LSB      = -20,
    parameter int WIDTH       = 4,
    parameter int EBITS       = 0,
    parameter int FIXED_SCALE = -1
) (
    input  logic                     clk,
    input  logic                     rst,
    input  logic [PAR*IN_W-1:0]      in_data,
    input  logic                     in_valid,
    output logic                     in_ready,
    output logic [8+PAR*WIDTH-1:0]   out_data,
    output logic                     out_valid,
    input  logic                     out_ready
);
    localparam int M    = WIDTH - 1 - EBITS;
    localparam int BIAS = (EBITS == 0) ? 0 : (1 << (EBITS - 1)) - 1;
    localparam int TOP  = (1 << EBITS) - 1;
    localparam int EMAX = (EBITS == 0) ? 0 : ((EBITS == 5) ? TOP - 1 : TOP) - BIAS;
    localparam int BPB  = K / PAR;
    localparam int CW   = (BPB > 1) ? $clog2(BPB) : 1;

    logic                    take;        // output register can load
    logic [PAR*IN_W-1:0]     q_data;      // values being quantized
    logic signed [8:0]       q_shared;
    logic [PAR*WIDTH-1:0]    codes;

    assign take = !out_valid || out_ready;

    genvar g;
    generate
        for (g = 0; g < PAR; g++) begin : g_lane
            mx_quant_elem #(.IN_W(IN_W), .IN_LSB(IN_LSB), .WIDTH(WIDTH), .EBITS(EBITS)) qe (
                .value(q_data[g*IN_W +: IN_W]), .shared(q_shared), .code(codes[g*WIDTH +: WIDTH]));
        end

        if (FIXED_SCALE >= 0) begin : g_fixed
            logic unused;
            assign unused   = ^{M, EMAX, CW};
            assign q_data   = in_data;
            assign q_shared = 9'(FIXED_SCALE - 127);
            assign in_ready = take;
            always_ff @(posedge clk) begin
                if (rst) out_valid <= 1'b0;
                else if (take) out_valid <= in_valid;
                if (take) out_data <= {8'(FIXED_SCALE), codes};
            end
        end else begin : g_mx
            localparam int DDEPTH = 1 << $clog2(2 * BPB + 2);
            logic [IN_W-1:0]     runmax, bmax, lane_abs;
            logic [CW-1:0]       ib, ob;
            logic                ilast, olast, d_in_ready, s_in_ready, d_valid, s_valid, fire;
            logic signed [8:0]   shared_in;
            logic [8:0]          s_data;

            always_comb begin
                bmax = (ib == '0) ? '0 : runmax;
                for (int i = 0; i < PAR; i++) begin
                    lane_abs = in_data[i*IN_W + IN_W - 1] ? IN_W'(-$signed(in_data[i*IN_W +: IN_W]))
                                                          : in_data[i*IN_W +: IN_W];
                    if (lane_abs > bmax) bmax = lane_abs;
                end
            end
            assign ilast    = ib == CW'(BPB - 1);
            assign olast    = ob == CW'(BPB - 1);
            assign in_ready = d_in_ready && s_in_ready;

            mx_shared_exp #(.IN_W(IN_W), .IN_LSB(IN_LSB), .EMAX(EMAX)) se (.amax(bmax), .shared(shared_in));

            mx_fifo #(.WIDTH(PAR*IN_W), .DEPTH(DDEPTH)) dfifo (.clk, .rst, .in_data,
                .in_valid(in_valid && s_in_ready), .in_ready(d_in_ready), .out_data(q_data),
                .out_valid(d_valid), .out_ready(take && s_valid));
            mx_fifo #(.WIDTH(9), .DEPTH(2)) sfifo (.clk, .rst, .in_data(shared_in),
                .in_valid(in_valid && in_ready && ilast), .in_ready(s_in_ready), .out_data(s_data),
                .out_valid(s_valid), .out_ready(fire && olast));
            assign q_shared = $signed(s_data);
            assign fire     = take && s_valid && d_valid;

            always_ff @(posedge clk) begin
                if (rst) begin
                    ib        <= '0;
                    ob        <= '0;
                    out_valid <= 1'b0;
                end else begin
                    if (in_valid && in_ready) begin
                        ib     <= ilast ? '0 : ib + 1'b1;
                        runmax <= bmax;
                    end
                    if (fire) ob <= olast ? '0 : ob + 1'b1;
                    if (take) out_valid <= fire;
                end
                if (fire) out_data <= {8'(s_data + 9'd127), codes};
            end
        end
    endgenerate
endmodule
