// Gate function of SiLU / GELU (FUNC 2: sigmoid, 1: Phi) of a signed Q.IN_F input, in Q.16
// (combinational): table of 513 entries on [-16, 16] with step 1/16, linear interpolation
//   i = (x >>> FB) + 256, FB = IN_F - 4;  g = T[i] + (((T[i+1] - T[i]) * x[FB-1:0]) >>> FB)
// and g = T[0] below, T[512] above the range (mase.golden.nonlinear.gate_int).
module mx_gate_interp #(
    parameter int FUNC = 2,
    parameter int IN_W = 20,
    parameter int IN_F = 12
) (
    input  logic signed [IN_W-1:0] in_data,
    output logic        [16:0]     out_data
);
    localparam int FB = IN_F - 4;
    localparam int IW = IN_W + 2;

    logic signed [IW-1:0] idx;
    logic        [9:0]    i0, i1;
    logic        [16:0]   lo, hi;
    /* verilator lint_off UNUSEDSIGNAL */  // g is in [0, 2**16]: its sign bit is always 0
    logic signed [17:0]   g;
    /* verilator lint_on UNUSEDSIGNAL */

    assign idx = (IW'(in_data) >>> FB) + IW'(256);
    assign i0  = (idx < 0) ? 10'd0 : (idx > IW'(511)) ? 10'd511 : idx[9:0];
    assign i1  = i0 + 10'd1;

    mx_gate_rom #(.FUNC(FUNC)) rom_lo (.in_addr(i0), .out_data(lo));
    mx_gate_rom #(.FUNC(FUNC)) rom_hi (.in_addr(i1), .out_data(hi));

    generate
        if (FB > 0) begin : g_interp
            logic signed [17:0]      d;
            logic signed [FB:0]      frac;
            logic signed [FB+18:0]   prod;
            /* verilator lint_off UNUSEDSIGNAL */  // |step| < 2**17: the high bits are sign copies
            logic signed [FB+18:0]   step;
            /* verilator lint_on UNUSEDSIGNAL */
            assign d    = $signed({1'b0, hi}) - $signed({1'b0, lo});
            assign frac = $signed({1'b0, in_data[FB-1:0]});
            assign prod = (FB + 19)'(d) * (FB + 19)'(frac);
            assign step = prod >>> FB;
            assign g    = $signed({1'b0, lo}) + step[17:0];
        end else begin : g_table
            assign g = $signed({1'b0, lo});
        end
    endgenerate

    assign out_data = (idx < 0) ? lo : (idx > IW'(511)) ? hi : g[16:0];
endmodule
