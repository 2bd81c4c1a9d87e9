// Reciprocal floor(2**NUM_EXP / S) of a positive S, bit-serial (two quotient bits per cycle): the
// largest q < 2**QB with q * S <= 2**NUM_EXP. start is taken when busy = 0; done pulses QE/2 + 1 cycles
// later (QE = QB rounded up to even).
// Restoring division without a multiplier (two steps a cycle from three parallel subtractions): q = 2**QB - 1 when S <= 2**(NUM_EXP - QB) (the quotient
// does not fit; also S = 0), else the remainder R = 2**NUM_EXP is reduced by D = S * 2**b for b =
// QE-1 .. 0 (bit b of q set when D <= R), which gives the same q as the greedy search (a bit at QB,
// for odd QB, is 0 when the quotient fits).
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
    localparam int QE = QB + (QB % 2);
    localparam int PW = ((QE + SW) > NUM_EXP ? (QE + SW) : NUM_EXP) + 1;
    localparam logic [PW-1:0] LIMIT = PW'(1) << NUM_EXP;

    logic [PW-1:0]           rem, d, dd, d1;
    logic [PW:0]             sa, sb, sc;  // rem - d, rem - (d + d/2), rem - d/2, with their sign
    logic                    sat, k0, k1;
    logic [QE-1:0]           q;
    logic [$clog2(QE+1)-1:0] bitn;  // the higher bit of this cycle's pair

    // the pair of bits bitn, bitn - 1: two restoring steps from three subtractions side by side
    // (dd = d + d/2 is a register: rem - d - d/2 = rem - dd)
    assign d1 = d >> 1;
    assign sa = {1'b0, rem} - {1'b0, d};
    assign sb = {1'b0, rem} - {1'b0, dd};
    assign sc = {1'b0, rem} - {1'b0, d1};
    assign k0 = sat || !sa[PW];
    assign k1 = sat || (k0 ? !sb[PW] : !sc[PW]);

    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
        end else if (!busy) begin
            if (start) begin
                rem  <= LIMIT;
                d    <= PW'(in_s) << (QE - 1);
                dd   <= (PW'(in_s) << (QE - 1)) + (PW'(in_s) << (QE - 2));
                sat  <= (PW'(in_s) << QB) <= LIMIT;
                q    <= '0;
                bitn <= ($clog2(QE+1))'(QE - 1);
                busy <= 1'b1;
            end
        end else begin
            d   <= d >> 2;
            dd  <= (d >> 2) + (d >> 3);
            rem <= k0 ? (k1 ? sb[PW-1:0] : sa[PW-1:0]) : (k1 ? sc[PW-1:0] : rem);
            q   <= q | (QE'(k0) << bitn) | (QE'(k1) << (bitn - 1'b1));
            if (bitn == 1) begin
                busy <= 1'b0;
                done <= 1'b1;
            end else begin
                bitn <= bitn - ($clog2(QE+1))'(2);
            end
        end
    end
    assign out_q = q[QB-1:0];
    generate
        if (QE != QB) begin : g_odd
            logic unused;
            assign unused = q[QE-1];
        end
    endgenerate
endmodule
