// Testbench control: reset for 4 cycles, then $finish once `done` holds (all sinks complete) or
// after +max_cycles=<n> cycles (prints MASE_TB_TIMEOUT). Prints MASE_TB_DONE cycles=<n> at the end.
module mx_tb_ctrl (
    input  logic clk,
    output logic rst,
    input  logic done
);
    int cycle, max_cycles;
    initial begin
        if (!$value$plusargs("max_cycles=%d", max_cycles)) max_cycles = 1000000;
        cycle = 0;
        rst = 1'b1;
    end
    always_ff @(posedge clk) begin
        cycle <= cycle + 1;
        if (cycle == 4) rst <= 1'b0;
        if (!rst && done) begin
            $display("MASE_TB_DONE cycles=%0d", cycle);
            $finish;
        end
        if (cycle >= max_cycles) begin
            $display("MASE_TB_TIMEOUT cycles=%0d", cycle);
            $finish;
        end
    end
endmodule
