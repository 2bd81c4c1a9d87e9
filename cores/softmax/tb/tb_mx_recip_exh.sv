// Exhaustive check of mx_recip_serial (tests/cores_nonlinear/test_softmax.py, verilator --binary): every S in
// [S_LO, S_HI] against floor(2**NUM_EXP / S), saturated at 2**QB - 1 (mase.golden.nonlinear.softmax_int's
// reciprocal); prints one RESULT line with the count of mismatches and the cycles from start to done.
module tb_mx_recip_exh #(parameter int SW = 24, parameter int QB = 21, parameter int NUM_EXP = 36, parameter int BITS = 2,
                      parameter longint S_LO = 1, parameter longint S_HI = (64'd1 << SW) - 1);
    logic clk = 0, rst = 1, start = 0, busy, done;
    logic [SW-1:0] in_s;
    logic [QB-1:0] out_q;
    mx_recip_serial #(.SW(SW), .QB(QB), .NUM_EXP(NUM_EXP), .BITS(BITS)) dut (.clk, .rst, .start, .in_s, .busy, .done, .out_q);
    always #1 clk = ~clk;
    longint bad = 0, n = 0, lat = 0, t0;
    longint unsigned e;
    initial begin
        repeat (3) @(posedge clk);
        rst <= 0;
        for (longint s = S_LO; s <= S_HI; s++) begin
            @(posedge clk);
            in_s <= SW'(s); start <= 1;
            t0 = $time;
            @(posedge clk);
            start <= 0;
            while (!done) @(posedge clk);
            lat = ($time - t0) / 2;
            e = (64'd1 << NUM_EXP) / 64'(s);
            if (e > (64'd1 << QB) - 1) e = (64'd1 << QB) - 1;
            if (64'(out_q) != e) begin
                if (bad < 5) $display("MISMATCH S=%0d got %0d want %0d", s, out_q, e);
                bad++;
            end
            n++;
        end
        $display("RESULT SW=%0d QB=%0d NUM_EXP=%0d checked=%0d mismatches=%0d done_after=%0d", SW, QB, NUM_EXP, n, bad, lat);
        $finish;
    end
endmodule
