// Stream fork: every input beat goes to all N outputs; each output may accept it in a different
// cycle (a per-output flag remembers who already has it). No latency, full throughput.
module mx_fork #(
    parameter int WIDTH = 8,
    parameter int N     = 2
) (
    input  logic               clk,
    input  logic               rst,
    input  logic [WIDTH-1:0]   in_data,
    input  logic               in_valid,
    output logic               in_ready,
    output logic [N*WIDTH-1:0] out_data,
    output logic [N-1:0]       out_valid,
    input  logic [N-1:0]       out_ready
);
    logic [N-1:0] sent;

    assign out_data  = {N{in_data}};
    assign out_valid = {N{in_valid}} & ~sent;
    assign in_ready  = &(sent | out_ready);

    always_ff @(posedge clk) begin
        if (rst) sent <= '0;
        else if (in_valid && in_ready) sent <= '0;
        else sent <= sent | (out_valid & out_ready);
    end
endmodule
