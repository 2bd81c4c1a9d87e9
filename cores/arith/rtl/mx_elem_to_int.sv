// Element code -> the exact signed integer I it stands for (value = I * 2**LSB * scale):
// mxint (EBITS = 0): the code itself; minifloat: +-(2**M + mant) << (biased - 1), subnormal +-mant.
// Combinational. IW = WIDTH for integers, (M + 1) + (2**EBITS - 2) + 1 for minifloats.
module mx_elem_to_int #(
    parameter int WIDTH = 4,
    parameter int EBITS = 0,
    parameter int IW    = (EBITS == 0) ? WIDTH : WIDTH - EBITS + (1 << EBITS) - 1
) (
    input  logic        [WIDTH-1:0] code,
    output logic signed [IW-1:0]    value
);
    generate
        if (EBITS == 0) begin : g_int
            assign value = IW'($signed(code));
        end else begin : g_fp
            localparam int M = WIDTH - 1 - EBITS;
            logic [EBITS-1:0] biased;
            logic [M-1:0]     mant;
            logic [IW-1:0]    mag;
            always_comb begin
                biased = code[WIDTH-2 -: EBITS];
                mant   = code[M-1:0];
                if (biased == '0) mag = IW'(mant);
                else mag = IW'({1'b1, mant}) << (biased - 1'b1);
                value = code[WIDTH-1] ? -$signed(mag) : $signed(mag);
            end
        end
    endgenerate
endmodule
