// Reciprocal floor(2**NUM_EXP / S) of a positive S, bit-serial (one quotient bit per cycle): the
// largest q < 2**QB with q * S <= 2**NUM_EXP. start is taken when busy = 0; done pulses QB + 1 cycles later.
// Restoring division without a multiplier: q = 2**QB - 1 when S <= 2**(NUM_EXP - QB) (the quotient
// does not fit; also S = 0), else the remainder R = 2**NUM_EXP is reduced by D = S * 2**b for b =
// QB-1 .. 0 (bit b of q set when D <= R), which gives the same q as the greedy search.
module mx_recip_serial #(
    parameter int SW      = 27,
    parameter int QB      = 21,
    parameter int NUM_EXP = 36
) (
    input  logic          clk,
    input  logic          rst,
    input  logic          start,
    input  logic [SW-1:0] in_s,
    output logic          busy,
    output logic          done,
    output logic [QB-1:0] out_q
);
    localparam int PW = ((QB + SW) > NUM_EXP ? (QB + SW) : NUM_EXP) + 1;
    localparam logic [PW-1:0] LIMIT = PW'(1) << NUM_EXP;

    logic [PW-1:0]           rem, d;
    logic                    sat;
    logic [$clog2(QB+1)-1:0] bitn;

    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
        end else if (!busy) begin
            if (start) begin
                rem   <= LIMIT;
                d     <= PW'(in_s) << (QB - 1);
                sat   <= (PW'(in_s) << QB) <= LIMIT;
                out_q <= '0;
                bitn  <= ($clog2(QB+1))'(QB - 1);
                busy  <= 1'b1;
            end
        end else begin
            d <= d >> 1;
            if (sat || d <= rem) begin
                out_q <= out_q | (QB'(1) << bitn);
                rem   <= rem - d;
            end
            if (bitn == 0) begin
                busy <= 1'b0;
                done <= 1'b1;
            end else begin
                bitn <= bitn - 1'b1;
            end
        end
    end
endmodule
