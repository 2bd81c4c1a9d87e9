// Testbench of demo_top: plays mase's golden stimulus (<dir>/i_embed.hex) with random stalls and
// compares every output beat with the golden model's (<exp>/o_final_norm.exp); prints MASE_TB_PASS
// or MASE_TB_FAIL. Driven by tb_main.cpp of mase:mx:tb (Verilator, -DVTOP=Vtb_demo).
module tb_demo (
    input logic clk
);
    localparam int MAX_BEATS = 4096;
    logic        rst;
    string       exp_dir;
    int          n_exp;
    logic [31:0] in_data;
    logic        in_valid, in_ready, in_done;
    logic [23:0] out_data;
    logic        out_valid, out_ready, out_done;
    int          in_c0, in_c1, out_c0, out_c1, idx, errors;
    logic [23:0] expected [MAX_BEATS];

    initial begin
        if (!$value$plusargs("exp=%s", exp_dir)) exp_dir = ".";
        if (!$value$plusargs("o_final_norm_n=%d", n_exp)) n_exp = 0;
        if (n_exp > 0) $readmemh({exp_dir, "/o_final_norm.exp"}, expected, 0, n_exp - 1);
    end

    mx_tb_source #(.WIDTH(32), .MAX_BEATS(MAX_BEATS), .NAME("i_embed"), .SALT(3)) u_src (
        .clk, .rst, .out_data(in_data), .out_valid(in_valid), .out_ready(in_ready), .done(in_done),
        .first_cycle(in_c0), .last_cycle(in_c1)
    );

    demo_top dut (.clk, .rst, .in_data, .in_valid, .in_ready, .out_data, .out_valid, .out_ready);

    mx_tb_sink #(.WIDTH(24), .NAME("o_final_norm"), .SALT(7)) u_snk (
        .clk, .rst, .in_data(out_data), .in_valid(out_valid), .in_ready(out_ready), .done(out_done),
        .first_cycle(out_c0), .last_cycle(out_c1)
    );

    always_ff @(posedge clk) begin
        if (rst) begin
            idx    <= 0;
            errors <= 0;
        end else if (out_valid && out_ready) begin
            if (idx >= n_exp || out_data !== expected[idx]) begin
                errors <= errors + 1;
                if (errors < 4) $display("MASE_TB_MISMATCH beat %0d got %h expected %h", idx, out_data, expected[idx]);
            end
            idx <= idx + 1;
        end
    end

    mx_tb_ctrl ctrl (.clk, .rst, .done(in_done && out_done));

    final begin
        $display("MASE_TB_CHECK o_final_norm beats=%0d errors=%0d first=%0d last=%0d", idx, errors, out_c0, out_c1);
        if (n_exp == 0 || errors != 0 || idx != n_exp) $display("MASE_TB_FAIL");
        else $display("MASE_TB_PASS");
    end
endmodule
