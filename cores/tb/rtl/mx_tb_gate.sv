// Testbench lockstep gate for autoregressive decode, between a source and the design: the beats of
// input token i (IN_BEATS a token) pass only once the design has emitted the outputs of tokens
// 0..i-1 (OUT_BEATS a token, counted on obs_fire, the output port's handshake), from token
// +gate_from=<i> on (no plusarg: never gates). So a token enters as soon as a host that computes it
// from the previous output could send it (zero host cycles). Each token's first input and last
// output cycle (counted from reset, as the sources and sinks count) are printed at the end as
// `MASE_TB_TOKEN <i> in=<cycle> out=<cycle>` (out=-1: not emitted).
module mx_tb_gate #(
    parameter int WIDTH      = 8,
    parameter int IN_BEATS   = 1,
    parameter int OUT_BEATS  = 1,
    parameter int MAX_TOKENS = 4096
) (
    input  logic             clk,
    input  logic             rst,
    input  logic [WIDTH-1:0] in_data,
    input  logic             in_valid,
    output logic             in_ready,
    output logic [WIDTH-1:0] out_data,
    output logic             out_valid,
    input  logic             out_ready,
    input  logic             obs_fire
);
    int gate_from, cycle, in_beat, in_tok, out_beat, out_tok;
    int t_in [MAX_TOKENS];
    int t_out [MAX_TOKENS];
    logic open;

    initial if (!$value$plusargs("gate_from=%d", gate_from)) gate_from = -1;

    assign open      = gate_from < 0 || in_tok < gate_from || out_tok >= in_tok;
    assign out_data  = in_data;
    assign out_valid = in_valid && open;
    assign in_ready  = out_ready && open;

    always_ff @(posedge clk) begin
        if (rst) begin
            cycle    <= 0;
            in_beat  <= 0;
            in_tok   <= 0;
            out_beat <= 0;
            out_tok  <= 0;
        end else begin
            cycle <= cycle + 1;
            if (in_valid && in_ready) begin
                if (in_beat == 0 && in_tok < MAX_TOKENS) t_in[in_tok] <= cycle;
                if (in_beat == IN_BEATS - 1) begin
                    in_beat <= 0;
                    in_tok  <= in_tok + 1;
                end else begin
                    in_beat <= in_beat + 1;
                end
            end
            if (obs_fire) begin
                if (out_beat == OUT_BEATS - 1) begin
                    out_beat <= 0;
                    if (out_tok < MAX_TOKENS) t_out[out_tok] <= cycle;
                    out_tok <= out_tok + 1;
                end else begin
                    out_beat <= out_beat + 1;
                end
            end
        end
    end

    final begin
        for (int i = 0; i < in_tok && i < MAX_TOKENS; i++)
            $display("MASE_TB_TOKEN %0d in=%0d out=%0d", i, t_in[i], (i < out_tok) ? t_out[i] : -1);
    end
endmodule
