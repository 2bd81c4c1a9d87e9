// Lane-count converter of a valid/ready stream: IN_LANES elements per input beat to OUT_LANES per
// output beat (one divides the other). MX beats ({scale[7:0], elements}, HAS_SCALE = 1) keep their
// block's scale: both lane counts divide the block size, so a beat never straddles two blocks.
module mase_width_conv #(
    parameter int IN_LANES  = 1,
    parameter int OUT_LANES = 2,
    parameter int ELEM_W    = 4,
    parameter int HAS_SCALE = 1
) (
    input  logic                                   clk,
    input  logic                                   rst,
    input  logic [8*HAS_SCALE+IN_LANES*ELEM_W-1:0]  in_data,
    input  logic                                   in_valid,
    output logic                                   in_ready,
    output logic [8*HAS_SCALE+OUT_LANES*ELEM_W-1:0] out_data,
    output logic                                   out_valid,
    input  logic                                   out_ready
);
    localparam int IW = IN_LANES * ELEM_W;
    localparam int OW = OUT_LANES * ELEM_W;

    if (OUT_LANES >= IN_LANES) begin : g_up
        localparam int R  = OUT_LANES / IN_LANES;
        localparam int CW = $clog2(R + 1);  // holds 0..R
        logic [OW-1:0] acc;
        logic          full;
        logic [CW-1:0] cnt;
        assign in_ready  = !full || out_ready;
        assign out_valid = full;
        always_ff @(posedge clk) begin
            if (rst) begin
                cnt  <= '0;
                full <= 1'b0;
            end else begin
                if (full && out_ready) full <= 1'b0;
                if (in_valid && in_ready) begin
                    acc[cnt*IW +: IW] <= in_data[IW-1:0];
                    if (cnt == CW'(R - 1)) begin
                        cnt  <= '0;
                        full <= 1'b1;
                    end else begin
                        cnt <= cnt + 1'b1;
                    end
                end
            end
        end
        if (HAS_SCALE != 0) begin : g_scale
            logic [7:0] scale;
            always_ff @(posedge clk) if (in_valid && in_ready && cnt == '0) scale <= in_data[IW +: 8];
            assign out_data = {scale, acc};
        end else begin : g_noscale
            assign out_data = acc;
        end
    end else begin : g_down
        localparam int R  = IN_LANES / OUT_LANES;
        localparam int CW = $clog2(R + 1);  // holds 0..R
        logic [IW-1:0] hold;
        logic          have;
        logic [CW-1:0] cnt;
        assign in_ready  = !have || (out_ready && cnt == CW'(R - 1));
        assign out_valid = have;
        always_ff @(posedge clk) begin
            if (rst) begin
                cnt  <= '0;
                have <= 1'b0;
            end else begin
                if (have && out_ready) begin
                    if (cnt == CW'(R - 1)) begin
                        cnt  <= '0;
                        have <= 1'b0;
                    end else begin
                        cnt <= cnt + 1'b1;
                    end
                end
                if (in_valid && in_ready) begin
                    hold <= in_data[IW-1:0];
                    have <= 1'b1;
                end
            end
        end
        if (HAS_SCALE != 0) begin : g_scale
            logic [7:0] scale;
            always_ff @(posedge clk) if (in_valid && in_ready) scale <= in_data[IW +: 8];
            assign out_data = {scale, hold[cnt*OW +: OW]};
        end else begin : g_noscale
            assign out_data = hold[cnt*OW +: OW];
        end
    end
endmodule
