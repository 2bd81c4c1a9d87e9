// Testbench checking sink: an mx_tb_sink (random back-pressure, <dir>/<NAME>.out, done after
// +<NAME>_n=<beats> beats) that also compares every beat with <exp>/<NAME>.exp (+exp=<folder>,
// $readmemh, BEATS words expected). Prints MASE_TB_MISMATCH for the first 4 differences and, at the
// end, MASE_TB_CHECK <NAME> beats=<received> errors=<n> first=<cycle> last=<cycle>. A beat beyond
// the BEATS expected ones counts as an error.
module mx_tb_check #(
    parameter int    WIDTH = 8,
    parameter string NAME  = "out",
    parameter int    SALT  = 7,
    parameter int    BEATS = 1
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [WIDTH-1:0] in_data,
    input  logic             in_valid,
    output logic             in_ready,
    output logic             done,
    output int               first_cycle,
    output int               last_cycle,
    output int               beats,
    output int               errors
);
    localparam int N = (BEATS > 0) ? BEATS : 1;
    logic [WIDTH-1:0] expected [N];
    string exp_dir;

    initial begin
        if (!$value$plusargs("exp=%s", exp_dir)) exp_dir = ".";
        if (BEATS > 0) $readmemh({exp_dir, "/", NAME, ".exp"}, expected);
    end

    mx_tb_sink #(.WIDTH(WIDTH), .NAME(NAME), .SALT(SALT)) u_sink (.clk, .rst, .in_data, .in_valid, .in_ready,
        .done, .first_cycle, .last_cycle);

    always_ff @(posedge clk) begin
        if (rst) begin
            beats  <= 0;
            errors <= 0;
        end else if (in_valid && in_ready) begin
            if (beats >= BEATS) begin
                errors <= errors + 1;
                if (errors < 4) $display("MASE_TB_MISMATCH %s beat %0d got %h expected none", NAME, beats, in_data);
            end else if (in_data !== expected[beats]) begin
                errors <= errors + 1;
                if (errors < 4) $display("MASE_TB_MISMATCH %s beat %0d got %h expected %h", NAME, beats, in_data,
                                         expected[beats]);
            end
            beats <= beats + 1;
        end
    end

    final $display("MASE_TB_CHECK %s beats=%0d errors=%0d first=%0d last=%0d", NAME, beats, errors, first_cycle,
                   last_cycle);
endmodule
