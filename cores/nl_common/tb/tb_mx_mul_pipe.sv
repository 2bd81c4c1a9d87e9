// Self-checking test of mx_mul_pipe: random operands (and the extremes) with a random clock enable
// against a * b delayed by LAT enabled cycles, for several widths, chunk widths CH and latencies LAT.
// Prints MUL_ERRORS=<n> and MASE_TB_DONE (tests/cores_nonlinear/test_mul_pipe.py).
module tb_mx_mul_pipe_one #(
    parameter int A_W = 38,
    parameter int B_W = 20,
    parameter int P_W = A_W + B_W,
    parameter int CH  = 8,
    parameter int LAT = 5
) (
    input  logic clk,
    input  logic run,
    output int   errs
);
    logic                  ce;
    logic signed [A_W-1:0] a;
    logic signed [B_W-1:0] b;
    logic signed [P_W-1:0] p, ref_q [LAT];
    int                    t = 0;
    mx_mul_pipe #(.A_W(A_W), .B_W(B_W), .P_W(P_W), .CH(CH), .LAT(LAT)) dut (.clk, .ce, .a, .b, .p);
    initial errs = 0;
    always_ff @(negedge clk) if (run) begin  // check the last edge's result, then new inputs
        t <= t + 1;
        if (t > 2 * LAT + 4 && p !== ref_q[LAT-1]) errs <= errs + 1;
        ce <= t < 2 * LAT + 4 || ($urandom % 4) != 0;
        case ($urandom % 6)
            0: a <= {1'b1, {(A_W - 1){1'b0}}};
            1: a <= {1'b0, {(A_W - 1){1'b1}}};
            default: a <= A_W'({$urandom, $urandom, $urandom});
        endcase
        case ($urandom % 6)
            0: b <= {1'b1, {(B_W - 1){1'b0}}};
            1: b <= '1;
            default: b <= B_W'({$urandom, $urandom, $urandom});
        endcase
    end
    always_ff @(posedge clk) if (ce) begin
        ref_q[0] <= P_W'(128'(a) * 128'(b));
        for (int i = 1; i < LAT; i++) ref_q[i] <= ref_q[i-1];
    end
endmodule

module tb_mx_mul_pipe;
    localparam int N = 10;
    logic clk = 1'b0, run = 1'b0;
    int   errs [N];
    int   cycles = 0;
    always #1 clk = ~clk;
    // A_W, B_W, P_W, CH, LAT
    tb_mx_mul_pipe_one #(38, 20, 58, 17, 3) u0 (.clk, .run, .errs(errs[0]));
    tb_mx_mul_pipe_one #(38, 20, 58, 6, 5) u1 (.clk, .run, .errs(errs[1]));
    tb_mx_mul_pipe_one #(38, 20, 58, 8, 4) u2 (.clk, .run, .errs(errs[2]));
    tb_mx_mul_pipe_one #(38, 20, 58, 17, 5) u3 (.clk, .run, .errs(errs[3]));
    tb_mx_mul_pipe_one #(18, 22, 40, 6, 3) u4 (.clk, .run, .errs(errs[4]));
    tb_mx_mul_pipe_one #(22, 17, 39, 6, 3) u5 (.clk, .run, .errs(errs[5]));
    tb_mx_mul_pipe_one #(63, 7, 64, 6, 5) u6 (.clk, .run, .errs(errs[6]));
    tb_mx_mul_pipe_one #(33, 33, 64, 17, 4) u7 (.clk, .run, .errs(errs[7]));
    tb_mx_mul_pipe_one #(5, 4, 9, 2, 5) u8 (.clk, .run, .errs(errs[8]));
    tb_mx_mul_pipe_one #(20, 18, 38, 3, 3) u9 (.clk, .run, .errs(errs[9]));
    initial begin
        int total;
        run = 1'b1;
        repeat (20000) begin
            @(posedge clk);
            cycles++;
        end
        run = 1'b0;
        @(posedge clk);
        total = 0;
        for (int i = 0; i < N; i++) begin
            if (errs[i] != 0) $display("MUL config %0d: %0d errors", i, errs[i]);
            total += errs[i];
        end
        $display("MUL_ERRORS=%0d", total);
        $display("MASE_TB_DONE cycles=%0d", cycles);
        $finish;
    end
endmodule
