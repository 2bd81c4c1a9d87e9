// Shared exponent of a block from the largest magnitude `amax` of its fixed-point values (at
// 2**IN_LSB): clamp(floor(log2 amax) + IN_LSB - EMAX, -127, 127); -127 for an all-zero block.
// Combinational.
module mx_shared_exp #(
    parameter int IN_W   = 32,
    parameter int IN_LSB = -20,
    parameter int EMAX   = 0
) (
    input  logic        [IN_W-1:0] amax,
    output logic signed [8:0]      shared
);
    int p, s;
    always_comb begin
        p = -1;
        for (int i = 0; i < IN_W; i++) if (amax[i]) p = i;
        s = p + IN_LSB - EMAX;
        if (p < 0 || s < -127) s = -127;
        if (s > 127) s = 127;
        shared = 9'(s);
    end
endmodule
