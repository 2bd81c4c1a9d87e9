// Rotation pairs -> natural order after mx_rope: per head, the x_lo lanes of each beat leave at once
// and the x_hi lanes are buffered, then leave after the head's last pair.
module mase_rope_unpack #(
    parameter int LANES    = 1,
    parameter int W        = 16,
    parameter int HEAD_DIM = 64
) (
    input  logic                   clk,
    input  logic                   rst,
    input  logic [2*LANES*W-1:0]   in_data,
    input  logic                   in_valid,
    output logic                   in_ready,
    output logic [LANES*W-1:0]     out_data,
    output logic                   out_valid,
    input  logic                   out_ready
);
    localparam int HB = HEAD_DIM / (2 * LANES);
    logic [LANES*W-1:0] hi [HB];
    logic               hi_half;
    int j;
    assign in_ready  = !hi_half && out_ready;
    assign out_valid = hi_half || in_valid;
    assign out_data  = hi_half ? hi[j] : in_data[LANES*W-1:0];
    always_ff @(posedge clk) begin
        if (rst) begin
            j       <= 0;
            hi_half <= 1'b0;
        end else if (out_valid && out_ready) begin
            if (!hi_half) hi[j] <= in_data[2*LANES*W-1:LANES*W];
            if (j == HB - 1) begin
                j       <= 0;
                hi_half <= !hi_half;
            end else begin
                j <= j + 1;
            end
        end
    end
endmodule
