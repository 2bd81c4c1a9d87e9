// Lint top of the arithmetic blocks: integer and minifloat instances of each.
module mx_arith_lint (
    input  logic               clk,
    input  logic               rst,
    input  logic [7:0]         in_code,
    input  logic signed [11:0] in_shift,
    input  logic signed [31:0] in_value,
    input  logic signed [8:0]  in_shared,
    input  logic [31:0]        in_amax,
    input  logic [31:0]        in_a,
    input  logic [31:0]        in_b,
    input  logic               in_valid,
    input  logic               in_last,
    output logic [63:0]        out_data
);
    logic signed [7:0]  i8;
    logic signed [18:0] f8;
    logic signed [31:0] al;
    logic signed [8:0]  sh;
    logic [3:0]         q4;
    logic [7:0]         q8;
    logic [3:0]         qf4;  // E2M1 and E2M3: no reserved top mantissa, unlike E4M3
    logic [5:0]         qf6;
    logic               dv;
    logic signed [23:0] ds;
    logic [3:0]         pq4, pqf4, pq4m;
    logic [3:0]         sq4, sqf4, sq4m;  // SHORT = 1
    logic signed [31:0] pal13;
    logic signed [31:0] pal;
    logic               pdv;
    logic signed [23:0] pds;
    logic signed [8:0]  psh;

    mx_elem_to_int #(.WIDTH(8), .EBITS(0)) d0 (.code(in_code), .value(i8));
    mx_elem_to_int #(.WIDTH(8), .EBITS(4)) d1 (.code(in_code), .value(f8));
    mx_align #(.IN_W(32), .SH_W(12), .OUT_W(32)) a0 (.in(in_value), .shift(in_shift), .out(al));
    mx_shared_exp #(.IN_W(32), .IN_LSB(-20), .EMAX(2)) s0 (.amax(in_amax), .shared(sh));
    mx_quant_elem #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(0)) q0 (.value(in_value), .shared(in_shared), .code(q4));
    mx_quant_elem #(.IN_W(32), .IN_LSB(-20), .WIDTH(8), .EBITS(4)) q1 (.value(in_value), .shared(in_shared), .code(q8));
    mx_quant_elem #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(2)) q2 (.value(in_value), .shared(in_shared), .code(qf4));
    mx_quant_elem #(.IN_W(32), .IN_LSB(-20), .WIDTH(6), .EBITS(2)) q3 (.value(in_value), .shared(in_shared), .code(qf6));
    mx_dot_lane #(.PAR(4), .A_WIDTH(8), .A_EBITS(0), .B_WIDTH(8), .B_EBITS(4), .SUM_W(24)) l0 (
        .clk, .rst, .ce(1'b1), .in_valid, .in_last, .in_a, .in_b, .out_valid(dv), .out_sum(ds));

    mx_quant_elem_pipe #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(0)) pq0 (.clk, .ce(in_valid), .value(in_value),
        .shared(in_shared), .code(pq4));
    mx_quant_elem_pipe #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(2)) pq1 (.clk, .ce(in_valid), .value(in_value),
        .shared(in_shared), .code(pqf4));
    mx_quant_elem_pipe #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(0), .BLOCK_MAX(1), .SIGN_MAG(1)) pq2 (.clk,
        .ce(in_valid), .value(in_value), .shared(in_shared), .code(pq4m));
    mx_quant_elem_pipe #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(0), .SHORT(1)) sq0 (.clk, .ce(in_valid),
        .value(in_value), .shared(in_shared), .code(sq4));
    mx_quant_elem_pipe #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(2), .SHORT(1)) sq1 (.clk, .ce(in_valid),
        .value(in_value), .shared(in_shared), .code(sqf4));
    mx_quant_elem_pipe #(.IN_W(32), .IN_LSB(-20), .WIDTH(4), .EBITS(0), .BLOCK_MAX(1), .SIGN_MAG(1), .SHORT(1)) sq2 (
        .clk, .ce(in_valid), .value(in_value), .shared(in_shared), .code(sq4m));
    mx_align_pipe #(.IN_W(32), .SH_W(12), .OUT_W(32)) pa0 (.clk, .ce(in_valid), .in(in_value), .shift(in_shift), .out(pal));
    mx_align_pipe #(.IN_W(13), .SH_W(12), .OUT_W(32), .SH_OFF(-238)) pa1 (.clk, .ce(in_valid), .in(in_value[12:0]),
        .shift(in_shift), .out(pal13));
    mx_dot_lane #(.PAR(6), .A_WIDTH(8), .A_EBITS(0), .B_WIDTH(8), .B_EBITS(4), .SUM_W(24), .TREE_REG(1)) l1 (
        .clk, .rst, .ce(1'b1), .in_valid, .in_last, .in_a({in_a[15:0], in_a}), .in_b({in_b[15:0], in_b}), .out_valid(pdv), .out_sum(pds));

    mx_shared_exp_pipe #(.IN_W(30), .IN_LSB(-20), .EMAX(2)) ps0 (.clk, .ce(in_valid), .amax(in_amax[29:0]), .shared(psh));

    assign out_data = {8'd0, i8, f8[7:0], al[15:0], sh[7:0], q4, q8[3:0], dv, ds[6:0]} ^ {8'd0, f8[18:8], al[31:16], sh[8], q8[7:4], ds[23:7], 7'd0}
                    ^ {54'd0, qf6, qf4} ^ {pal, pds, pq4, pqf4} ^ {63'd0, pdv} ^ {55'd0, psh} ^ {62'd0, in_amax[31:30]}
                    ^ {pal13, 28'd0, pq4m} ^ {52'd0, sq4, sqf4, sq4m};
endmodule
