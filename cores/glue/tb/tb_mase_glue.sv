// Testbench of the glue modules: every module of mase:mx:glue between its own stream source(s) and
// sink, so that one build tests them all (a run plays the ports it names; a port with no beats is
// done at once). Parameters are the modules' own, prefixed: WC_ mase_width_conv, PAD_ mase_pad,
// TP_ mase_transpose_pad, POS_ mase_pos_tag, RP_ mase_rope_pack, RU_ mase_rope_unpack,
// ROM_ mase_param_rom, AM_ mase_attn_matmul. Ports (hex files <dir>/<port>.hex, <dir>/<port>.out):
// wc_in/wc_out, pad_in/pad_out, tp_in/tp_out, pos_in/pos_out, rp_in/rp_out, ru_in/ru_out, rom_out,
// am_a/am_b/am_out. ROM_FILE is read when the simulation starts (relative to its working folder).
module tb_mase_glue #(
    parameter int WC_IN_LANES    = 1,
    parameter int WC_OUT_LANES   = 4,
    parameter int WC_ELEM_W      = 4,
    parameter int WC_HAS_SCALE   = 1,
    parameter int PAD_W          = 16,
    parameter int PAD_LANES      = 1,
    parameter int PAD_SEG        = 8,
    parameter int PAD_SEG_PAD    = 16,
    parameter int TP_W           = 16,
    parameter int TP_LANES       = 1,
    parameter int TP_F           = 4,
    parameter int TP_T           = 5,
    parameter int TP_T_PAD       = 8,
    parameter int TP_STEP        = 0,
    parameter int TP_BANKS       = 1,
    parameter int POS_WIDTH      = 20,
    parameter int POS_POS_W      = 4,
    parameter int POS_BEATS      = 3,
    parameter int POS_TOKENS     = 0,
    parameter int POS_HOLD       = 1,
    parameter int RP_LANES       = 1,
    parameter int RP_W           = 16,
    parameter int RP_HEAD_DIM    = 8,
    parameter int RP_HEADS       = 2,
    parameter int RP_POS_W       = 4,
    parameter int RP_TOKENS      = 0,
    parameter int RP_HOLD        = 1,
    parameter int RU_LANES       = 1,
    parameter int RU_W           = 16,
    parameter int RU_HEAD_DIM    = 8,
    parameter int ROM_WIDTH      = 16,
    parameter int ROM_DEPTH      = 5,
    parameter int ROM_ROW        = ROM_DEPTH,
    parameter int ROM_REPEAT     = 1,
    parameter     ROM_FILE       = "rom.hex",
    parameter int AM_HEADS         = 2,
    parameter int AM_KV_HEADS      = 1,
    parameter int AM_ROWS          = 3,
    parameter int AM_N             = 3,
    parameter int AM_N_PAD         = 8,
    parameter int AM_D             = 16,
    parameter int AM_K             = 8,
    parameter int AM_K_OUT         = 4,
    parameter int AM_PAR_D         = 2,
    parameter int AM_A_WIDTH       = 4,
    parameter int AM_A_EBITS       = 0,
    parameter int AM_B_WIDTH       = 4,
    parameter int AM_B_EBITS       = 0,
    parameter int AM_O_WIDTH       = 8,
    parameter int AM_O_EBITS       = 0,
    parameter int AM_ACC_LSB       = -20,
    parameter int AM_ACC_W         = 32,
    parameter int AM_B_GROUP_MAJOR = 0,
    parameter int AM_A_FIXED_SCALE = -1,
    parameter int AM_B_FIXED_SCALE = -1,
    parameter int AM_O_FIXED_SCALE = -1,
    parameter int AM_OUT_PAR       = 1,
    parameter int AM_CHUNK         = 0,
    parameter int AM_BANKS         = 1,
    parameter int AM_B_PER_GROUP   = 0
) (
    input logic clk
);
    localparam int MB = 8192;  // beats a source holds
    localparam int WC_IW = 8 * WC_HAS_SCALE + WC_IN_LANES * WC_ELEM_W;
    localparam int WC_OW = 8 * WC_HAS_SCALE + WC_OUT_LANES * WC_ELEM_W;
    localparam int PAD_DW = PAD_LANES * PAD_W;
    localparam int TP_DW = TP_LANES * TP_W;
    localparam int RP_IW = RP_LANES * RP_W;
    localparam int RP_OW = RP_POS_W + 2 * RP_LANES * RP_W;
    localparam int RU_OW = RU_LANES * RU_W;
    localparam int AM_AW = 8 + AM_PAR_D * AM_A_WIDTH;
    localparam int AM_BW = 8 + AM_PAR_D * AM_B_WIDTH;
    localparam int AM_OW = 8 + AM_OUT_PAR * AM_O_WIDTH;

    logic rst;
    logic [15:0] done;  // one bit per source and sink
    mx_tb_ctrl ctrl (.clk, .rst, .done(&done));

    // ---- mase_width_conv
    logic [WC_IW-1:0] wc_i_data;
    logic [WC_OW-1:0] wc_o_data;
    logic wc_i_valid, wc_i_ready, wc_o_valid, wc_o_ready;
    int wc_s0, wc_s1, wc_k0, wc_k1;
    mx_tb_source #(.WIDTH(WC_IW), .MAX_BEATS(MB), .NAME("wc_in"), .SALT(11)) wc_src (.clk, .rst,
        .out_data(wc_i_data), .out_valid(wc_i_valid), .out_ready(wc_i_ready), .done(done[0]),
        .first_cycle(wc_s0), .last_cycle(wc_s1));
    mase_width_conv #(.IN_LANES(WC_IN_LANES), .OUT_LANES(WC_OUT_LANES), .ELEM_W(WC_ELEM_W),
        .HAS_SCALE(WC_HAS_SCALE)) wc_dut (.clk, .rst, .in_data(wc_i_data), .in_valid(wc_i_valid),
        .in_ready(wc_i_ready), .out_data(wc_o_data), .out_valid(wc_o_valid), .out_ready(wc_o_ready));
    mx_tb_sink #(.WIDTH(WC_OW), .NAME("wc_out"), .SALT(12)) wc_snk (.clk, .rst, .in_data(wc_o_data),
        .in_valid(wc_o_valid), .in_ready(wc_o_ready), .done(done[1]), .first_cycle(wc_k0), .last_cycle(wc_k1));

    // ---- mase_pad
    logic [PAD_DW-1:0] pad_i_data, pad_o_data;
    logic pad_i_valid, pad_i_ready, pad_o_valid, pad_o_ready;
    int pad_s0, pad_s1, pad_k0, pad_k1;
    mx_tb_source #(.WIDTH(PAD_DW), .MAX_BEATS(MB), .NAME("pad_in"), .SALT(13)) pad_src (.clk, .rst,
        .out_data(pad_i_data), .out_valid(pad_i_valid), .out_ready(pad_i_ready), .done(done[2]),
        .first_cycle(pad_s0), .last_cycle(pad_s1));
    mase_pad #(.W(PAD_W), .LANES(PAD_LANES), .SEG(PAD_SEG), .SEG_PAD(PAD_SEG_PAD)) pad_dut (.clk, .rst,
        .in_data(pad_i_data), .in_valid(pad_i_valid), .in_ready(pad_i_ready), .out_data(pad_o_data),
        .out_valid(pad_o_valid), .out_ready(pad_o_ready));
    mx_tb_sink #(.WIDTH(PAD_DW), .NAME("pad_out"), .SALT(14)) pad_snk (.clk, .rst, .in_data(pad_o_data),
        .in_valid(pad_o_valid), .in_ready(pad_o_ready), .done(done[3]), .first_cycle(pad_k0),
        .last_cycle(pad_k1));

    // ---- mase_transpose_pad
    logic [TP_DW-1:0] tp_i_data, tp_o_data;
    logic tp_i_valid, tp_i_ready, tp_o_valid, tp_o_ready;
    int tp_s0, tp_s1, tp_k0, tp_k1;
    mx_tb_source #(.WIDTH(TP_DW), .MAX_BEATS(MB), .NAME("tp_in"), .SALT(15)) tp_src (.clk, .rst,
        .out_data(tp_i_data), .out_valid(tp_i_valid), .out_ready(tp_i_ready), .done(done[4]),
        .first_cycle(tp_s0), .last_cycle(tp_s1));
    mase_transpose_pad #(.W(TP_W), .LANES(TP_LANES), .F(TP_F), .T(TP_T), .T_PAD(TP_T_PAD), .STEP(TP_STEP),
        .BANKS(TP_BANKS)) tp_dut (.clk,
        .rst, .in_data(tp_i_data), .in_valid(tp_i_valid), .in_ready(tp_i_ready), .out_data(tp_o_data),
        .out_valid(tp_o_valid), .out_ready(tp_o_ready));
    mx_tb_sink #(.WIDTH(TP_DW), .NAME("tp_out"), .SALT(16)) tp_snk (.clk, .rst, .in_data(tp_o_data),
        .in_valid(tp_o_valid), .in_ready(tp_o_ready), .done(done[5]), .first_cycle(tp_k0),
        .last_cycle(tp_k1));

    // ---- mase_pos_tag
    logic [POS_WIDTH-1:0] pos_i_data;
    logic [POS_POS_W+POS_WIDTH-1:0] pos_o_data;
    logic pos_i_valid, pos_i_ready, pos_o_valid, pos_o_ready;
    int pos_s0, pos_s1, pos_k0, pos_k1;
    mx_tb_source #(.WIDTH(POS_WIDTH), .MAX_BEATS(MB), .NAME("pos_in"), .SALT(17)) pos_src (.clk, .rst,
        .out_data(pos_i_data), .out_valid(pos_i_valid), .out_ready(pos_i_ready), .done(done[6]),
        .first_cycle(pos_s0), .last_cycle(pos_s1));
    mase_pos_tag #(.WIDTH(POS_WIDTH), .POS_W(POS_POS_W), .BEATS(POS_BEATS), .TOKENS(POS_TOKENS),
        .HOLD(POS_HOLD)) pos_dut (.clk, .rst,
        .in_data(pos_i_data), .in_valid(pos_i_valid), .in_ready(pos_i_ready), .out_data(pos_o_data),
        .out_valid(pos_o_valid), .out_ready(pos_o_ready));
    mx_tb_sink #(.WIDTH(POS_POS_W+POS_WIDTH), .NAME("pos_out"), .SALT(18)) pos_snk (.clk, .rst,
        .in_data(pos_o_data), .in_valid(pos_o_valid), .in_ready(pos_o_ready), .done(done[7]),
        .first_cycle(pos_k0), .last_cycle(pos_k1));

    // ---- mase_rope_pack
    logic [RP_IW-1:0] rp_i_data;
    logic [RP_OW-1:0] rp_o_data;
    logic rp_i_valid, rp_i_ready, rp_o_valid, rp_o_ready;
    int rp_s0, rp_s1, rp_k0, rp_k1;
    mx_tb_source #(.WIDTH(RP_IW), .MAX_BEATS(MB), .NAME("rp_in"), .SALT(19)) rp_src (.clk, .rst,
        .out_data(rp_i_data), .out_valid(rp_i_valid), .out_ready(rp_i_ready), .done(done[8]),
        .first_cycle(rp_s0), .last_cycle(rp_s1));
    mase_rope_pack #(.LANES(RP_LANES), .W(RP_W), .HEAD_DIM(RP_HEAD_DIM), .HEADS(RP_HEADS), .POS_W(RP_POS_W),
        .TOKENS(RP_TOKENS), .HOLD(RP_HOLD))
        rp_dut (.clk, .rst, .in_data(rp_i_data), .in_valid(rp_i_valid), .in_ready(rp_i_ready),
        .out_data(rp_o_data), .out_valid(rp_o_valid), .out_ready(rp_o_ready));
    mx_tb_sink #(.WIDTH(RP_OW), .NAME("rp_out"), .SALT(20)) rp_snk (.clk, .rst, .in_data(rp_o_data),
        .in_valid(rp_o_valid), .in_ready(rp_o_ready), .done(done[9]), .first_cycle(rp_k0), .last_cycle(rp_k1));

    // ---- mase_rope_unpack
    logic [2*RU_OW-1:0] ru_i_data;
    logic [RU_OW-1:0] ru_o_data;
    logic ru_i_valid, ru_i_ready, ru_o_valid, ru_o_ready;
    int ru_s0, ru_s1, ru_k0, ru_k1;
    mx_tb_source #(.WIDTH(2*RU_OW), .MAX_BEATS(MB), .NAME("ru_in"), .SALT(21)) ru_src (.clk, .rst,
        .out_data(ru_i_data), .out_valid(ru_i_valid), .out_ready(ru_i_ready), .done(done[10]),
        .first_cycle(ru_s0), .last_cycle(ru_s1));
    mase_rope_unpack #(.LANES(RU_LANES), .W(RU_W), .HEAD_DIM(RU_HEAD_DIM)) ru_dut (.clk, .rst,
        .in_data(ru_i_data), .in_valid(ru_i_valid), .in_ready(ru_i_ready), .out_data(ru_o_data),
        .out_valid(ru_o_valid), .out_ready(ru_o_ready));
    mx_tb_sink #(.WIDTH(RU_OW), .NAME("ru_out"), .SALT(22)) ru_snk (.clk, .rst, .in_data(ru_o_data),
        .in_valid(ru_o_valid), .in_ready(ru_o_ready), .done(done[11]), .first_cycle(ru_k0), .last_cycle(ru_k1));

    // ---- mase_param_rom (always valid: the sink sees it only until it has its beats)
    logic [ROM_WIDTH-1:0] rom_o_data;
    logic rom_o_valid, rom_o_ready, rom_k_ready;
    int rom_k0, rom_k1;
    mase_param_rom #(.WIDTH(ROM_WIDTH), .DEPTH(ROM_DEPTH), .ROW(ROM_ROW), .REPEAT(ROM_REPEAT),
        .FILE(ROM_FILE)) rom_dut (.clk, .rst,
        .out_data(rom_o_data), .out_valid(rom_o_valid), .out_ready(rom_o_ready));
    assign rom_o_ready = rom_k_ready && !done[12];
    mx_tb_sink #(.WIDTH(ROM_WIDTH), .NAME("rom_out"), .SALT(23)) rom_snk (.clk, .rst, .in_data(rom_o_data),
        .in_valid(rom_o_valid && !done[12]), .in_ready(rom_k_ready), .done(done[12]), .first_cycle(rom_k0),
        .last_cycle(rom_k1));

    // ---- mase_attn_matmul
    logic [AM_AW-1:0] am_a_data;
    logic [AM_BW-1:0] am_b_data;
    logic [AM_OW-1:0] am_o_data;
    logic am_a_valid, am_a_ready, am_b_valid, am_b_ready, am_o_valid, am_o_ready;
    int am_a0, am_a1, am_b0, am_b1, am_k0, am_k1;
    mx_tb_source #(.WIDTH(AM_AW), .MAX_BEATS(MB), .NAME("am_a"), .SALT(25)) am_asrc (.clk, .rst,
        .out_data(am_a_data), .out_valid(am_a_valid), .out_ready(am_a_ready), .done(done[13]),
        .first_cycle(am_a0), .last_cycle(am_a1));
    mx_tb_source #(.WIDTH(AM_BW), .MAX_BEATS(MB), .NAME("am_b"), .SALT(27)) am_bsrc (.clk, .rst,
        .out_data(am_b_data), .out_valid(am_b_valid), .out_ready(am_b_ready), .done(done[14]),
        .first_cycle(am_b0), .last_cycle(am_b1));
    mase_attn_matmul #(.HEADS(AM_HEADS), .KV_HEADS(AM_KV_HEADS), .ROWS(AM_ROWS), .N(AM_N), .N_PAD(AM_N_PAD),
        .D(AM_D), .K(AM_K), .K_OUT(AM_K_OUT), .PAR_D(AM_PAR_D), .A_WIDTH(AM_A_WIDTH), .A_EBITS(AM_A_EBITS),
        .B_WIDTH(AM_B_WIDTH), .B_EBITS(AM_B_EBITS), .O_WIDTH(AM_O_WIDTH), .O_EBITS(AM_O_EBITS),
        .ACC_LSB(AM_ACC_LSB), .ACC_W(AM_ACC_W), .B_GROUP_MAJOR(AM_B_GROUP_MAJOR),
        .A_FIXED_SCALE(AM_A_FIXED_SCALE), .B_FIXED_SCALE(AM_B_FIXED_SCALE), .O_FIXED_SCALE(AM_O_FIXED_SCALE),
        .OUT_PAR(AM_OUT_PAR), .CHUNK(AM_CHUNK), .BANKS(AM_BANKS),
        .B_PER_GROUP(AM_B_PER_GROUP))
        am_dut (.clk, .rst, .a_data(am_a_data), .a_valid(am_a_valid), .a_ready(am_a_ready),
        .b_data(am_b_data), .b_valid(am_b_valid), .b_ready(am_b_ready), .out_data(am_o_data),
        .out_valid(am_o_valid), .out_ready(am_o_ready));
    mx_tb_sink #(.WIDTH(AM_OW), .NAME("am_out"), .SALT(29)) am_snk (.clk, .rst, .in_data(am_o_data),
        .in_valid(am_o_valid), .in_ready(am_o_ready), .done(done[15]), .first_cycle(am_k0), .last_cycle(am_k1));

    final begin
        $display("MASE_TB_STATS wc_in_first=%0d wc_in_last=%0d wc_out_first=%0d wc_out_last=%0d",
                 wc_s0, wc_s1, wc_k0, wc_k1);
        $display("MASE_TB_STATS pad_in_first=%0d pad_in_last=%0d pad_out_first=%0d pad_out_last=%0d",
                 pad_s0, pad_s1, pad_k0, pad_k1);
        $display("MASE_TB_STATS tp_in_first=%0d tp_in_last=%0d tp_out_first=%0d tp_out_last=%0d",
                 tp_s0, tp_s1, tp_k0, tp_k1);
        $display("MASE_TB_STATS pos_in_first=%0d pos_in_last=%0d pos_out_first=%0d pos_out_last=%0d",
                 pos_s0, pos_s1, pos_k0, pos_k1);
        $display("MASE_TB_STATS rp_in_first=%0d rp_in_last=%0d rp_out_first=%0d rp_out_last=%0d",
                 rp_s0, rp_s1, rp_k0, rp_k1);
        $display("MASE_TB_STATS ru_in_first=%0d ru_in_last=%0d ru_out_first=%0d ru_out_last=%0d",
                 ru_s0, ru_s1, ru_k0, ru_k1);
        $display("MASE_TB_STATS rom_out_first=%0d rom_out_last=%0d", rom_k0, rom_k1);
        $display("MASE_TB_STATS am_a_first=%0d am_a_last=%0d am_b_first=%0d am_b_last=%0d am_out_first=%0d am_out_last=%0d",
                 am_a0, am_a1, am_b0, am_b1, am_k0, am_k1);
    end
endmodule
