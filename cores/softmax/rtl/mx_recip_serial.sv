// Reciprocal floor(2**NUM_EXP / S) of a positive S, bit-serial (one quotient bit per cycle): the
// largest q < 2**QB with q * S <= 2**NUM_EXP. start is taken when busy = 0; done pulses QB + 1 cycles later.
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
    localparam int PW = QB + SW + 1;
    localparam logic [PW-1:0] LIMIT = PW'(1) << NUM_EXP;

    logic [SW-1:0]             s;
    logic [$clog2(QB+1)-1:0]   bitn;
    logic [QB-1:0]             cand;
    logic [PW-1:0]             prod;

    assign cand = out_q | (QB'(1) << bitn);
    assign prod = PW'(cand) * PW'(s);

    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
        end else if (!busy) begin
            if (start) begin
                s     <= in_s;
                out_q <= '0;
                bitn  <= ($clog2(QB+1))'(QB - 1);
                busy  <= 1'b1;
            end
        end else begin
            if (prod <= LIMIT) out_q <= cand;
            if (bitn == 0) begin
                busy <= 1'b0;
                done <= 1'b1;
            end else begin
                bitn <= bitn - 1'b1;
            end
        end
    end
endmodule
