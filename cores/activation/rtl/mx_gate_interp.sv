// Gate function of SiLU / GELU (FUNC 2: sigmoid, 1: Phi) of a signed Q.IN_F input, in Q.16: table of
// 513 entries on [-16, 16] with step 1/16, linear interpolation
//   i = (x >>> FB) + 256, FB = IN_F - 4;  g = T[i] + (((T[i+1] - T[i]) * x[FB-1:0]) >>> FB)
// and g = T[0] below, T[512] above the range (mase.golden.nonlinear.gate_int).
// Pipelined, every register enabled by ce; latency LAT = 6 cycles (out_data registered):
// index and clamp | the two table reads | a plain register (block RAM output) | T[i+1] - T[i] |
// * frac | + T[i] and the range select.
module mx_gate_interp #(
    parameter int FUNC = 2,
    parameter int IN_W = 20,
    parameter int IN_F = 12,
    parameter int LAT  = 6  // fixed; a parameter so that users can read it
) (
    input  logic                   clk,
    input  logic                   ce,
    input  logic signed [IN_W-1:0] in_data,
    output logic        [16:0]     out_data
);
    localparam int FB = IN_F - 4;
    localparam int IW = IN_W + 2;
    localparam int FW = (FB > 0) ? FB : 1;

    generate
        if (LAT != 6) begin : g_bad_lat
            $error("mx_gate_interp: LAT is 6");
        end
    endgenerate

    // stage 1: table index, clamped, and the range flags
    logic signed [IW-1:0] idx;
    logic        [9:0]    i0, i0_1;
    logic                 lo1, hi1;
    logic        [3:0]    lod, hid;  // range flags, stages 2..5
    logic        [FW-1:0] fr1, fr2, fr3;
    assign idx = (IW'(in_data) >>> FB) + IW'(256);
    assign i0  = (idx < 0) ? 10'd0 : (idx > IW'(511)) ? 10'd511 : idx[9:0];
    always_ff @(posedge clk) if (ce) begin
        i0_1 <= i0;
        lo1  <= idx < 0;
        hi1  <= idx > IW'(511);
        fr1  <= (FB > 0) ? in_data[FW-1:0] : '0;
    end

    // stage 2: the two table entries
    logic [16:0] lo, hi, lo_2, hi_2, lo_3, hi_3, lo_4, hi_4, lo_5, hi_5;
    mx_gate_rom #(.FUNC(FUNC)) rom_lo (.in_addr(i0_1), .out_data(lo));
    mx_gate_rom #(.FUNC(FUNC)) rom_hi (.in_addr(i0_1 + 10'd1), .out_data(hi));
    always_ff @(posedge clk) if (ce) begin
        lo_2 <= lo;
        hi_2 <= hi;
        lo_3 <= lo_2;
        hi_3 <= hi_2;
        lo_4 <= lo_3;
        hi_4 <= hi_3;
        lo_5 <= lo_4;
        hi_5 <= hi_4;
        lod  <= {lod[2:0], lo1};
        hid  <= {hid[2:0], hi1};
        fr2  <= fr1;
        fr3  <= fr2;
    end

    // stage 4: the difference; stage 5: the interpolation product; stage 6: the sum and the range select
    /* verilator lint_off UNUSEDSIGNAL */  // g is in [0, 2**16]: its sign bit is always 0
    logic signed [17:0] g;
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (FB > 0) begin : g_interp
            logic signed [17:0]    d4;
            logic signed [FB:0]    frac4;
            logic signed [FB+18:0] prod, prod5;
            /* verilator lint_off UNUSEDSIGNAL */  // |step| < 2**17: the high bits are sign copies
            logic signed [FB+18:0] step;
            /* verilator lint_on UNUSEDSIGNAL */
            always_ff @(posedge clk) if (ce) begin
                d4    <= $signed({1'b0, hi_3}) - $signed({1'b0, lo_3});
                frac4 <= $signed({1'b0, fr3});
                prod5 <= prod;
            end
            assign prod = (FB + 19)'(d4) * (FB + 19)'(frac4);
            assign step = prod5 >>> FB;
            assign g    = $signed({1'b0, lo_5}) + step[17:0];
        end else begin : g_table
            logic unused;
            assign unused = ^fr3;
            assign g      = $signed({1'b0, lo_5});
        end
    endgenerate
    always_ff @(posedge clk) if (ce) out_data <= lod[3] ? lo_5 : hid[3] ? hi_5 : g[16:0];
endmodule
