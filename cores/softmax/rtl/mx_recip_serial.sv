// Reciprocal floor(2**NUM_EXP / S) of a positive S, BITS (1 or 2) quotient bits a cycle: the largest
// q < 2**QB with q * S <= 2**NUM_EXP. start is taken when busy = 0; done pulses ceil(QB / BITS) + 2 cycles
// later (one cycle prepares the first remainder, -S, +-3S and the saturation test; an odd QB at BITS 2
// ends with one bit). BITS 2 costs two adders and the +-3S registers, and its select after Y1's sign
// lengthens the loop: iCE40UP5K 40.9 -> 34.0 MHz on mx_softmax (ECP5: not its critical path).
// mx_softmax runs two of them side by side.
// q = 2**QB - 1 when S <= 2**(NUM_EXP - QB) (the quotient does not fit; also S = 0), else the bits of
// the restoring division of 2**NUM_EXP by S, from bit QB-1 down (bit b set when S 2**b <= the
// remainder R), computed without restoring: Y = R / 2**b - S is kept, bit b is Y >= 0, and the next
// Y is 2 Y - S (Y >= 0) or 2 Y + S (Y < 0), in [-S, S): the loop is one adder whose operand is chosen
// by the sign of a register (no compare-then-select), SW + 2 bits wide. Two bits a cycle: Y1 = 2 Y -+ S
// (bit b - 1 is Y1 >= 0) and both next Y = 4 Y + {-3S, -S} (Y >= 0) or {S, 3S} (Y < 0) are formed
// beside it, and Y1's sign picks one (three adders, modulo 2**(SW + 2): every Y lies in [-S, S)).
module mx_recip_serial #(
    parameter int SW      = 27,
    parameter int QB      = 21,
    parameter int NUM_EXP = 36,
    parameter int BITS    = 1
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
    localparam int YW = SW + 2;                  // Y in [-S, S) and 2 Y +- S, signed
    localparam int X0 = NUM_EXP - QB + 1;        // R / 2**(QB-1) at the start: 2**X0 (< 2 S when q fits)
    localparam int BW = $clog2(QB + 1);

    generate
        if (QB > NUM_EXP) begin : g_bad_exp
            $error("mx_recip_serial: QB must be at most NUM_EXP");
        end
        if (BITS != 1 && BITS != 2) begin : g_bad_bits
            $error("mx_recip_serial: BITS must be 1 or 2");
        end
    endgenerate

    logic signed [YW-1:0] y, s, ns, s3, ns3;  // Y; S, -S, 3S, -3S
    logic signed [YW-1:0] y1, y2p, y2n;       // 2 Y -+ S; 4 Y -+ ... for Y1 >= 0, Y1 < 0
    logic                 two;                 // two bits this cycle
    logic                 sat, prep;
    logic [QB-1:0]        q;
    logic [BW-1:0]        n;  // bits left

    assign y1  = (y <<< 1) + (y[YW-1] ? s : ns);
    assign y2p = (y <<< 2) + (y[YW-1] ? s : ns3);
    assign y2n = (y <<< 2) + (y[YW-1] ? s3 : ns);
    assign two = BITS == 2 && n != BW'(1);

    always_ff @(posedge clk) begin
        done <= 1'b0;
        if (rst) begin
            busy <= 1'b0;
        end else if (!busy) begin
            if (start) begin
                s    <= YW'(in_s);
                n    <= BW'(QB);
                prep <= 1'b1;
                busy <= 1'b1;
            end
        end else if (prep) begin  // the first Y = 2**X0 - S and the saturation test, from the registered S
            // (2**X0 only matters when the quotient fits: then 2**X0 < 2 S < 2**YW)
            y    <= ((X0 < YW - 1) ? YW'(1) <<< X0 : YW'(0)) - s;
            ns   <= -s;
            s3   <= s + (s <<< 1);
            ns3  <= -(s + (s <<< 1));
            sat  <= (PW'(unsigned'(s)) << QB) <= LIMIT;
            prep <= 1'b0;
        end else begin
            if (two) begin  // most significant bits first
                q <= QB'({q, !y[YW-1], !y1[YW-1]});
                y <= y1[YW-1] ? y2n : y2p;
            end else begin
                q <= QB'({q, !y[YW-1]});
                y <= y1;
            end
            if (n == BW'(1) || (two && n == BW'(2))) begin
                busy <= 1'b0;
                done <= 1'b1;
            end
            n <= n - (two ? BW'(2) : BW'(1));
        end
    end
    assign out_q = sat ? '1 : q;
endmodule
