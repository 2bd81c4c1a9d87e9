// Zero padding of fixed-point segments: each SEG elements (LANES a beat) are followed by
// SEG_PAD - SEG zeros, so that MX blocks never straddle two segments (e.g. a head shorter than a block).
module mase_pad #(
    parameter int W       = 16,
    parameter int LANES   = 1,
    parameter int SEG     = 16,
    parameter int SEG_PAD = 32
) (
    input  logic               clk,
    input  logic               rst,
    input  logic [LANES*W-1:0] in_data,
    input  logic               in_valid,
    output logic               in_ready,
    output logic [LANES*W-1:0] out_data,
    output logic               out_valid,
    input  logic               out_ready
);
    localparam int IB = SEG / LANES;
    localparam int TB = SEG_PAD / LANES;
    localparam int CW = $clog2(TB + 1);  // holds 0..TB
    logic [CW-1:0] cnt;
    logic          pad;
    assign pad       = cnt >= CW'(IB);
    assign out_data  = pad ? '0 : in_data;
    assign out_valid = pad || in_valid;
    assign in_ready  = !pad && out_ready;
    always_ff @(posedge clk) begin
        if (rst) cnt <= 0;
        else if (out_valid && out_ready) cnt <= (cnt == CW'(TB - 1)) ? '0 : cnt + 1'b1;
    end
endmodule
