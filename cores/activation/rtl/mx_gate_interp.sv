// Gate function of SiLU / GELU (FUNC 2: sigmoid, 1: Phi) of a signed Q.IN_F input, in Q.16: table of
// 513 entries on [-16, 16] with step 1/16, linear interpolation
//   i = (x >>> FB) + 256, FB = IN_F - 4;  g = T[i] + (((T[i+1] - T[i]) * x[FB-1:0]) >>> FB)
// and g = T[0] below, T[512] above the range (mase.golden.nonlinear.gate_int).
// Pipelined, every register enabled by ce; latency LAT = 6 cycles (out_data registered):
// index and clamp | the two table reads | a plain register (block RAM output) | T[i+1] - T[i] |
// * frac | + T[i] and the range select. With MASE_MUL_CHUNK defined (the iCE40 flows: LUT multipliers)
// the difference moves to stage 3 and the product takes stages 4 (d times three pieces of frac) and 5
// (their sum): same latency, same result.
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
`ifdef MASE_MUL_CHUNK
    localparam int LUTMUL = 1;  // products in LUTs (the iCE40 flows): the interpolation product in two stages
`else
    localparam int LUTMUL = 0;
`endif

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

    // stages 4 and 5 (3 to 5 with LUTMUL): the difference and the interpolation product; stage 6: the
    // sum and the range select
    /* verilator lint_off UNUSEDSIGNAL */  // g is in [0, 2**16]: its sign bit is always 0
    logic signed [17:0] g;
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (FB > 0) begin : g_interp
            logic signed [FB+18:0] prod;
            /* verilator lint_off UNUSEDSIGNAL */  // |step| < 2**17: the high bits are sign copies
            logic signed [FB+18:0] step;
            /* verilator lint_on UNUSEDSIGNAL */
            if (LUTMUL == 0) begin : g_one
                // stage 4: the difference; stage 5: the product (one multiplier)
                logic signed [17:0]    d4;
                logic signed [FB:0]    frac4;
                logic signed [FB+18:0] prod5;
                always_ff @(posedge clk) if (ce) begin
                    d4    <= $signed({1'b0, hi_3}) - $signed({1'b0, lo_3});
                    frac4 <= $signed({1'b0, fr3});
                    prod5 <= (FB + 19)'(d4) * (FB + 19)'(frac4);
                end
                assign prod = prod5;
            end else begin : g_pieces
                // LUT multipliers: stage 3 the difference (from the table's registered output), stage 4
                // the products of d with NF pieces of FC bits of frac, stage 5 their sum. Both tables
                // rise, by at most 1633 an entry (tests/cores_nonlinear/test_activation.py checks it), so
                // d = T[i+1] - T[i] is DW = 11 bits unsigned (T[512] - T[511] when clamped above: 0)
                localparam int DW = 11;
                localparam int NF = (FB < 3) ? FB : 3;
                localparam int FC = (FB + NF - 1) / NF;
                /* verilator lint_off UNUSEDSIGNAL */  // the bits above DW are 0
                logic [17:0]             dfull;
                /* verilator lint_on UNUSEDSIGNAL */
                logic [DW-1:0]           d3;
                logic [NF*(DW+FC)-1:0]   pr4;
                logic [FB+DW-1:0]        prod5;
                assign dfull = {1'b0, hi_2} - {1'b0, lo_2};
                always_ff @(posedge clk) if (ce) begin
                    d3 <= dfull[DW-1:0];
                    for (int k = 0; k < NF; k++)
                        pr4[k*(DW+FC) +: DW+FC] <= (DW+FC)'(d3) * (DW+FC)'(FC'(fr3 >> (FC*k)));
                end
                always_ff @(posedge clk) if (ce) begin
                    logic [FB+DW-1:0] acc;
                    acc = '0;
                    for (int k = 0; k < NF; k++) acc = acc + ((FB+DW)'(pr4[k*(DW+FC) +: DW+FC]) << (FC*k));
                    prod5 <= acc;
                end
                assign prod = (FB+19)'(prod5);
            end
            assign step = prod >>> FB;
            assign g    = $signed({1'b0, lo_5}) + step[17:0];
        end else begin : g_table
            logic unused;
            assign unused = ^fr3;
            assign g      = $signed({1'b0, lo_5});
        end
    endgenerate
    always_ff @(posedge clk) if (ce) out_data <= lod[3] ? lo_5 : hid[3] ? hi_5 : g[16:0];
endmodule
