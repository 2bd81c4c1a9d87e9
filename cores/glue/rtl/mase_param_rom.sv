// Streams a ROM of DEPTH words cyclically (word 0 after word DEPTH-1): the learned parameters of a
// norm (scale, bias), one word per beat of a row, for every row. Always valid after reset.
// Layer reuse (hw.fold): the ROM holds DEPTH / ROW blocks of ROW words (one decoder layer's row of
// parameters each); block b is streamed REPEAT times (once per token of a pass) before block b + 1.
// The defaults (ROW = DEPTH, REPEAT = 1) are the plain cyclic ROM.
module mase_param_rom #(
    parameter int    WIDTH  = 16,
    parameter int    DEPTH  = 4,
    parameter int    ROW    = DEPTH,  // words of one block (divides DEPTH)
    parameter int    REPEAT = 1,      // times each block is streamed before the next one
    parameter        FILE   = "params.hex"  // untyped: Yosys 0.23 rejects `string` here
) (
    input  logic             clk,
    input  logic             rst,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready
);
    logic [WIDTH-1:0] mem [DEPTH];
    int base, off, rep;
    initial $readmemh(FILE, mem);
    assign out_valid = !rst;
    assign out_data  = mem[base + off];
    always_ff @(posedge clk) begin
        if (rst) begin
            base <= 0;
            off  <= 0;
            rep  <= 0;
        end else if (out_ready) begin
            if (off != ROW - 1) off <= off + 1;
            else begin
                off <= 0;
                if (rep != REPEAT - 1) rep <= rep + 1;
                else begin
                    rep  <= 0;
                    base <= (base + ROW == DEPTH) ? 0 : base + ROW;
                end
            end
        end
    end
endmodule
