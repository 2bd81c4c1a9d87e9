// Self-checking testbench of the pipelined arithmetic blocks against their references, random and
// edge inputs, one value per cycle (tests/cores/test_arith_pipes.py builds it with verilator --binary):
// - mx_align_pipe (with SH_OFF) against the combinational mx_align of shift + SH_OFF, 3 cycles later;
// - mx_quant_elem_pipe with BLOCK_MAX = 1 and SIGN_MAG = 1 (the narrow mxint path mx_quantize uses)
//   against the generic one (BLOCK_MAX = 0), on values below 2**p of a block maximum's exponent.
// Prints "PASS" or "FAIL <count>".
module tb_arith_pipes;
    parameter int A_IN_W = 13, A_OUT_W = 32, SH_OFF = -238;
    parameter int Q_IN_W = 36, Q_IN_LSB = -20, Q_WIDTH = 4;
    parameter int N = 200000;
    localparam int SH_W = 12;
    logic clk = 1'b0;

    logic signed [A_IN_W-1:0]  a_in;
    logic signed [SH_W-1:0]    a_sh, a_sh_off;
    logic signed [A_OUT_W-1:0] a_out, a_ref, a_d [3];
    assign a_sh_off = a_sh + SH_W'(SH_OFF);
    mx_align_pipe #(.IN_W(A_IN_W), .SH_W(SH_W), .OUT_W(A_OUT_W), .SH_OFF(SH_OFF)) dut_a (.clk, .ce(1'b1),
        .in(a_in), .shift(a_sh), .out(a_out));
    mx_align #(.IN_W(A_IN_W), .SH_W(SH_W), .OUT_W(A_OUT_W)) ref_a (.in(a_in), .shift(a_sh_off), .out(a_ref));

    logic signed [Q_IN_W-1:0]  q_v;
    logic [Q_IN_W-1:0]         q_sm;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [Q_IN_W-1:0]         q_mag;  // its top bit is set only for -2**(IN_W-1), whose low bits are zeros
    /* verilator lint_on UNUSEDSIGNAL */
    logic signed [8:0]         q_sh;
    logic [Q_WIDTH-1:0]        q_out, q_ref;
    assign q_mag = q_v[Q_IN_W-1] ? Q_IN_W'(-q_v) : Q_IN_W'(q_v);
    assign q_sm  = {q_v[Q_IN_W-1], q_mag[Q_IN_W-2:0]};  // {sign, |value| below its top bit}, as mx_quantize's FIFO
    mx_quant_elem_pipe #(.IN_W(Q_IN_W), .IN_LSB(Q_IN_LSB), .WIDTH(Q_WIDTH), .EBITS(0), .BLOCK_MAX(1), .SIGN_MAG(1))
        dut_q (.clk, .ce(1'b1), .value(q_sm), .shared(q_sh), .code(q_out));
    mx_quant_elem_pipe #(.IN_W(Q_IN_W), .IN_LSB(Q_IN_LSB), .WIDTH(Q_WIDTH), .EBITS(0))
        ref_q (.clk, .ce(1'b1), .value(q_v), .shared(q_sh), .code(q_ref));

    always_ff @(posedge clk) begin  // the reference, delayed as the pipeline
        a_d[0] <= a_ref;
        a_d[1] <= a_d[0];
        a_d[2] <= a_d[1];
    end

    int errs = 0;
    initial begin
        for (int n = 0; n < N; n++) begin
            int r, m;
            logic [63:0] rnd;
            // aligner: edge and random values, shifts around and far beyond the caps
            r = $urandom % 8;
            a_in = A_IN_W'($urandom);
            if (r == 0) a_in = '0;
            else if (r == 1) a_in = '1;
            else if (r == 2) a_in = {1'b1, {(A_IN_W - 1) {1'b0}}};
            else if (r == 3) a_in = {1'b0, {(A_IN_W - 1) {1'b1}}};
            else if (r == 4) a_in = A_IN_W'(1) <<< ($urandom % A_IN_W);
            else if (r == 5) a_in = -(A_IN_W'(1) <<< ($urandom % A_IN_W));
            a_sh = ($urandom % 4 == 0) ? SH_W'(int'($urandom % 1024) - 512 - SH_OFF)
                                       : SH_W'(int'($urandom % (A_IN_W + A_OUT_W + 8)) - A_IN_W - 4 - SH_OFF);
            // quantizer: a block maximum msb m (or an all-zero block) and a value |v| <= 2**(m+1) - 1
            m = $urandom % Q_IN_W;
            rnd = {$urandom, $urandom};
            r = $urandom % 6;
            q_mag_r(rnd, m, r);
            q_sh = 9'(m + Q_IN_LSB);
            if ($urandom % 50 == 0) begin
                q_v  = '0;
                q_sh = -9'sd127;
            end
            #1 clk = 1'b1;
            #1 clk = 1'b0;
            if (n >= 4 && a_out !== a_d[2]) begin
                errs++;
                if (errs < 8) $display("align mismatch at %0d: %h, expected %h", n, a_out, a_d[2]);
            end
            if (n >= 6 && q_out !== q_ref) begin
                errs++;
                if (errs < 8) $display("quant mismatch at %0d: %h, expected %h", n, q_out, q_ref);
            end
        end
        if (errs == 0) $display("PASS");
        else $display("FAIL %0d", errs);
        $finish;
    end

    task automatic q_mag_r(input logic [63:0] rnd, input int m, input int r);
        logic [Q_IN_W:0] mg;
        mg = (Q_IN_W + 1)'(rnd) & (((Q_IN_W + 1)'(1) << (m + 1)) - 1);
        if (^rnd[63:Q_IN_W+1] === 1'bx) $display("never");  // the unused random bits
        if (r == 0) mg = (Q_IN_W + 1)'(1) << m;
        else if (r == 1) mg = ((Q_IN_W + 1)'(1) << (m + 1)) - 1;
        else if (r == 2) mg = mg >> ($urandom % (m + 1));
        if (m == Q_IN_W - 1) begin  // |value| <= 2**(IN_W-1): the negative end
            if (mg >= ((Q_IN_W + 1)'(1) << (Q_IN_W - 1))) mg = (Q_IN_W + 1)'(1) << (Q_IN_W - 1);
            q_v = (mg == ((Q_IN_W + 1)'(1) << (Q_IN_W - 1)) || $urandom % 2 == 1) ? -Q_IN_W'(mg) : Q_IN_W'(mg);
        end else begin
            q_v = ($urandom % 2 == 1) ? -Q_IN_W'(mg) : Q_IN_W'(mg);
        end
    endtask
endmodule
