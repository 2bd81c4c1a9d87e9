// mx_round_sat in two register stages enabled by ce (latency LAT = 2, out_data registered): the
// rounded re-scaled value | the symmetric saturation to OUT_W bits. Same result as mx_round_sat.
module mx_round_sat_pipe #(
    parameter int IN_W  = 32,
    parameter int SHIFT = 0,
    parameter int OUT_W = 16,
    parameter int LAT   = 2  // fixed; a parameter so that users can read it
) (
    input  logic                    clk,
    input  logic                    ce,
    input  logic signed [IN_W-1:0]  in_data,
    output logic signed [OUT_W-1:0] out_data
);
    localparam int LSH = (SHIFT < 0) ? -SHIFT : 0;
    localparam int EW  = ((IN_W + 1 + LSH) > (OUT_W + 1)) ? (IN_W + 1 + LSH) : (OUT_W + 1);

    generate
        if (LAT != 2) begin : g_bad_lat
            $error("mx_round_sat_pipe: LAT is 2");
        end
    endgenerate

    logic signed [EW-1:0] ext, r, r1;
    assign ext = EW'(in_data);
    generate
        if (SHIFT > 0) begin : g_right
            localparam logic signed [EW-1:0] HALF = EW'(1) <<< (SHIFT - 1);
            logic signed [EW-1:0] biased;
            assign biased = ext + HALF;
            assign r      = biased >>> SHIFT;
        end else begin : g_left
            assign r = ext <<< LSH;
        end
    endgenerate
    logic signed [OUT_W-1:0] sat;
    mx_sat_sym #(.IN_W(EW), .OUT_W(OUT_W)) u_sat (.in_data(r1), .out_data(sat));
    always_ff @(posedge clk) if (ce) begin
        r1       <= r;
        out_data <= sat;
    end
endmodule
