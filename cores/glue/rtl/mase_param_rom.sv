// Streams a ROM of DEPTH words cyclically (word 0 after word DEPTH-1): the learned parameters of a
// norm (scale, bias), one word per beat of a row, for every row. Always valid after reset.
module mase_param_rom #(
    parameter int    WIDTH = 16,
    parameter int    DEPTH = 4,
    parameter        FILE  = "params.hex"  // untyped: Yosys 0.23 rejects `string` here
) (
    input  logic             clk,
    input  logic             rst,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready
);
    logic [WIDTH-1:0] mem [DEPTH];
    int idx;
    initial $readmemh(FILE, mem);
    assign out_valid = !rst;
    assign out_data  = mem[idx];
    always_ff @(posedge clk) begin
        if (rst) idx <= 0;
        else if (out_ready) idx <= (idx == DEPTH - 1) ? 0 : idx + 1;
    end
endmodule
