// Layer reuse (folding): one piece of hardware (e.g. a decoder layer) computes PASSES passes over
// the same BEATS-beat sequence (e.g. a prompt of T tokens). The first pass reads the external input
// (in_*); each later pass reads what the previous pass produced, buffered in an on-chip FIFO of
// DEPTH beats; the last pass's results leave on out_*. Then the next sequence starts.
//   in_*  -> lo_* (loop output: into the reused hardware)   li_* (loop input: from it) -> out_*
// Deadlock-free when DEPTH >= BEATS: the hardware may hold back up to a whole pass before its
// first result of that pass (e.g. attention over the prompt), so the buffer holds one pass.
// PASSES = 1: a wire from in to lo and from li to out (no buffer).
module mx_loop #(
    parameter int WIDTH  = 8,
    parameter int BEATS  = 4,   // beats of one pass
    parameter int PASSES = 2,
    parameter int DEPTH  = 4    // buffer beats: power of two, >= BEATS (mx_fifo's capacity is DEPTH + 1)
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [WIDTH-1:0] in_data,
    input  logic             in_valid,
    output logic             in_ready,
    output logic [WIDTH-1:0] lo_data,
    output logic             lo_valid,
    input  logic             lo_ready,
    input  logic [WIDTH-1:0] li_data,
    input  logic             li_valid,
    output logic             li_ready,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready
);
    localparam int BW = $clog2(BEATS + 1);
    localparam int PW = $clog2(PASSES + 1);

    // pass and beat counters of the sequence entering the hardware (lo) and leaving it (li)
    logic [PW-1:0] ipass, opass;
    logic [BW-1:0] ibeat, obeat;
    logic first, last;  // lo reads the external input; li goes to the external output
    assign first = ipass == '0;
    assign last  = opass == PW'(PASSES - 1);

    logic [WIDTH-1:0] bi_data, bo_data;
    logic bi_valid, bi_ready, bo_valid, bo_ready;

    assign lo_data  = first ? in_data : bo_data;
    assign lo_valid = first ? in_valid : bo_valid;
    assign in_ready = first && lo_ready;
    assign bo_ready = !first && lo_ready;

    assign out_data = li_data;
    assign out_valid = last && li_valid;
    assign bi_data  = li_data;
    assign bi_valid = !last && li_valid;
    assign li_ready = last ? out_ready : bi_ready;

    always_ff @(posedge clk) begin
        if (rst) begin
            ipass <= '0;
            ibeat <= '0;
            opass <= '0;
            obeat <= '0;
        end else begin
            if (lo_valid && lo_ready) begin
                if (ibeat == BW'(BEATS - 1)) begin
                    ibeat <= '0;
                    ipass <= (ipass == PW'(PASSES - 1)) ? '0 : ipass + 1'b1;
                end else ibeat <= ibeat + 1'b1;
            end
            if (li_valid && li_ready) begin
                if (obeat == BW'(BEATS - 1)) begin
                    obeat <= '0;
                    opass <= last ? '0 : opass + 1'b1;
                end else obeat <= obeat + 1'b1;
            end
        end
    end

    generate
        if (PASSES > 1) begin : g_buffer
            mx_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) u_buffer (
                .clk, .rst, .in_data(bi_data), .in_valid(bi_valid), .in_ready(bi_ready),
                .out_data(bo_data), .out_valid(bo_valid), .out_ready(bo_ready));
        end else begin : g_wire
            assign bi_ready = 1'b0;
            assign bo_data  = '0;
            assign bo_valid = 1'b0;
            logic unused_buffer;
            assign unused_buffer = ^{bi_data, bi_valid, bo_ready};
        end
    endgenerate

    initial if (PASSES > 1 && DEPTH < BEATS) $fatal(1, "mx_loop: DEPTH %0d < BEATS %0d can deadlock", DEPTH, BEATS);
endmodule
