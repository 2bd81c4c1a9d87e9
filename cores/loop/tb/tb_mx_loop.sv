// Testbench of mx_loop: the reused "hardware" adds 1 to each beat behind a FIFO of HOLD beats (it
// may hold back up to HOLD beats before returning them, as a layer holds a chunk of the prompt),
// so every output beat is its input beat + PASSES. Sources play SEQS sequences of BEATS beats.
module tb_mx_loop #(
    parameter int WIDTH  = 8,
    parameter int BEATS  = 4,
    parameter int PASSES = 2,
    parameter int DEPTH  = 4,
    parameter int HOLD   = 4   // <= BEATS, <= 16
) (
    input logic clk
);
    logic rst, src_done, snk_done;
    int s0, s1, k0, k1;
    logic [WIDTH-1:0] i_data, lo_data, li_data, o_data, h_data;
    logic i_valid, i_ready, lo_valid, lo_ready, li_valid, li_ready, o_valid, o_ready, h_valid, h_ready;

    mx_tb_ctrl ctrl (.clk, .rst, .done(src_done && snk_done));
    mx_tb_source #(.WIDTH(WIDTH), .NAME("in")) src (.clk, .rst, .out_data(i_data), .out_valid(i_valid),
        .out_ready(i_ready), .done(src_done), .first_cycle(s0), .last_cycle(s1));
    mx_loop #(.WIDTH(WIDTH), .BEATS(BEATS), .PASSES(PASSES), .DEPTH(DEPTH)) dut (.clk, .rst,
        .in_data(i_data), .in_valid(i_valid), .in_ready(i_ready), .lo_data, .lo_valid, .lo_ready,
        .li_data, .li_valid, .li_ready, .out_data(o_data), .out_valid(o_valid), .out_ready(o_ready));
    // the reused hardware: hold a whole chunk (gated: nothing leaves before HOLD beats are in or the
    // pass is complete), then +1
    int held, got;
    logic gate;
    assign gate = held >= HOLD || got % BEATS == 0;
    mx_fifo #(.WIDTH(WIDTH), .DEPTH(16)) hold (.clk, .rst, .in_data(lo_data + WIDTH'(1)), .in_valid(lo_valid),
        .in_ready(lo_ready), .out_data(h_data), .out_valid(h_valid), .out_ready(h_ready));
    assign li_data  = h_data;
    assign li_valid = h_valid && gate;
    assign h_ready  = li_ready && gate;
    always_ff @(posedge clk) begin
        if (rst) begin
            held <= 0;
            got <= 0;
        end else begin
            held <= held + int'(lo_valid && lo_ready) - int'(li_valid && li_ready);
            if (lo_valid && lo_ready) got <= got + 1;
        end
    end
    mx_tb_sink #(.WIDTH(WIDTH), .NAME("out")) snk (.clk, .rst, .in_data(o_data), .in_valid(o_valid),
        .in_ready(o_ready), .done(snk_done), .first_cycle(k0), .last_cycle(k1));

    final $display("MASE_TB_STATS in_first=%0d in_last=%0d out_first=%0d out_last=%0d", s0, s1, k0, k1);
endmodule
