// Synchronous FIFO, DEPTH entries in a memory written and read on clock edges (inferable as block
// RAM) plus the memory's output register: capacity DEPTH + 1 beats, latency 2 cycles from an empty
// FIFO, full throughput (one beat in and one out per cycle).
module mx_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16  // power of two, >= 2
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [WIDTH-1:0] in_data,
    input  logic             in_valid,
    output logic             in_ready,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready
);
    localparam int AW = $clog2(DEPTH);

    logic [WIDTH-1:0] mem [DEPTH];
    logic [AW-1:0]    wptr, rptr;
    logic [AW:0]      count;
    logic             wr_en, rd_en;

    assign in_ready = count != DEPTH[AW:0];
    assign wr_en    = in_valid && in_ready;
    assign rd_en    = (count != '0) && (!out_valid || out_ready);

    always_ff @(posedge clk) begin
        if (wr_en) mem[wptr] <= in_data;
        if (rd_en) out_data <= mem[rptr];
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            wptr      <= '0;
            rptr      <= '0;
            count     <= '0;
            out_valid <= 1'b0;
        end else begin
            if (wr_en) wptr <= wptr + 1'b1;
            if (rd_en) rptr <= rptr + 1'b1;
            count <= count + {{AW{1'b0}}, wr_en} - {{AW{1'b0}}, rd_en};
            if (rd_en) out_valid <= 1'b1;
            else if (out_ready) out_valid <= 1'b0;
        end
    end
endmodule
