// Every glue module on one top, each with its own ports and parameters (prefixed as in tb_mase_glue):
// the lint target checks them all at these defaults, the synth targets count one (ONLY = its module
// name, e.g. "mase_pad"; the other modules are left out and their outputs tied to zero) or all (ONLY = "").
module mase_glue_wrap #(
`ifdef YOSYS  // Yosys 0.23 has no string parameter type
    parameter              ONLY             = "",
`else
    parameter string       ONLY             = "",
`endif
    parameter int          WC_IN_LANES      = 1,
    parameter int          WC_OUT_LANES     = 4,
    parameter int          WC_ELEM_W        = 4,
    parameter int          WC_HAS_SCALE     = 1,
    parameter int          PAD_W            = 16,
    parameter int          PAD_LANES        = 1,
    parameter int          PAD_SEG          = 16,
    parameter int          PAD_SEG_PAD      = 32,
    parameter int          TP_W             = 16,
    parameter int          TP_LANES         = 1,
    parameter int          TP_F             = 32,
    parameter int          TP_T             = 8,
    parameter int          TP_T_PAD         = 32,
    parameter int          TP_STEP          = 0,
    parameter int          POS_WIDTH        = 20,
    parameter int          POS_POS_W        = 16,
    parameter int          POS_BEATS        = 8,
    parameter int          RP_LANES         = 1,
    parameter int          RP_W             = 16,
    parameter int          RP_HEAD_DIM      = 64,
    parameter int          RP_HEADS         = 1,
    parameter int          RP_POS_W         = 16,
    parameter int          RU_LANES         = 1,
    parameter int          RU_W             = 16,
    parameter int          RU_HEAD_DIM      = 64,
    parameter int          ROM_WIDTH        = 16,
    parameter int          ROM_DEPTH        = 4,
    parameter              ROM_FILE         = "rom.hex",
    parameter int          AM_HEADS         = 4,
    parameter int          AM_KV_HEADS      = 2,
    parameter int          AM_ROWS          = 8,
    parameter int          AM_N             = 8,
    parameter int          AM_N_PAD         = 8,
    parameter int          AM_D             = 32,
    parameter int          AM_K             = 32,
    parameter int          AM_K_OUT         = 8,
    parameter int          AM_PAR_D         = 1,
    parameter int          AM_A_WIDTH       = 4,
    parameter int          AM_A_EBITS       = 0,
    parameter int          AM_B_WIDTH       = 4,
    parameter int          AM_B_EBITS       = 0,
    parameter int          AM_O_WIDTH       = 8,
    parameter int          AM_O_EBITS       = 0,
    parameter int          AM_ACC_LSB       = -20,
    parameter int          AM_ACC_W         = 32,
    parameter int          AM_B_GROUP_MAJOR = 0,
    parameter int          AM_A_FIXED_SCALE = -1,
    parameter int          AM_B_FIXED_SCALE = -1,
    parameter int          AM_O_FIXED_SCALE = -1,
    parameter int          AM_OUT_PAR       = 1,
    parameter int          AM_CHUNK         = 0
) (
    input  logic                                                 clk,
    input  logic                                                 rst,
    input  logic [8*WC_HAS_SCALE+WC_IN_LANES*WC_ELEM_W-1:0]      wc_in_data,
    input  logic                                                 wc_in_valid,
    output logic                                                 wc_in_ready,
    output logic [8*WC_HAS_SCALE+WC_OUT_LANES*WC_ELEM_W-1:0]     wc_out_data,
    output logic                                                 wc_out_valid,
    input  logic                                                 wc_out_ready,
    input  logic [PAD_LANES*PAD_W-1:0]                           pad_in_data,
    input  logic                                                 pad_in_valid,
    output logic                                                 pad_in_ready,
    output logic [PAD_LANES*PAD_W-1:0]                           pad_out_data,
    output logic                                                 pad_out_valid,
    input  logic                                                 pad_out_ready,
    input  logic [TP_LANES*TP_W-1:0]                             tp_in_data,
    input  logic                                                 tp_in_valid,
    output logic                                                 tp_in_ready,
    output logic [TP_LANES*TP_W-1:0]                             tp_out_data,
    output logic                                                 tp_out_valid,
    input  logic                                                 tp_out_ready,
    input  logic [POS_WIDTH-1:0]                                 pos_in_data,
    input  logic                                                 pos_in_valid,
    output logic                                                 pos_in_ready,
    output logic [POS_POS_W+POS_WIDTH-1:0]                       pos_out_data,
    output logic                                                 pos_out_valid,
    input  logic                                                 pos_out_ready,
    input  logic [RP_LANES*RP_W-1:0]                             rp_in_data,
    input  logic                                                 rp_in_valid,
    output logic                                                 rp_in_ready,
    output logic [RP_POS_W+2*RP_LANES*RP_W-1:0]                  rp_out_data,
    output logic                                                 rp_out_valid,
    input  logic                                                 rp_out_ready,
    input  logic [2*RU_LANES*RU_W-1:0]                           ru_in_data,
    input  logic                                                 ru_in_valid,
    output logic                                                 ru_in_ready,
    output logic [RU_LANES*RU_W-1:0]                             ru_out_data,
    output logic                                                 ru_out_valid,
    input  logic                                                 ru_out_ready,
    output logic [ROM_WIDTH-1:0]                                 rom_out_data,
    output logic                                                 rom_out_valid,
    input  logic                                                 rom_out_ready,
    input  logic [8+AM_PAR_D*AM_A_WIDTH-1:0]                     am_a_data,
    input  logic                                                 am_a_valid,
    output logic                                                 am_a_ready,
    input  logic [8+AM_PAR_D*AM_B_WIDTH-1:0]                     am_b_data,
    input  logic                                                 am_b_valid,
    output logic                                                 am_b_ready,
    output logic [8+AM_OUT_PAR*AM_O_WIDTH-1:0]                   am_out_data,
    output logic                                                 am_out_valid,
    input  logic                                                 am_out_ready
);
    localparam bit ALL = (ONLY == "");

    if (ALL || ONLY == "mase_width_conv") begin : g_wc
        mase_width_conv #(.IN_LANES(WC_IN_LANES), .OUT_LANES(WC_OUT_LANES), .ELEM_W(WC_ELEM_W),
            .HAS_SCALE(WC_HAS_SCALE)) u (.clk, .rst, .in_data(wc_in_data), .in_valid(wc_in_valid),
            .in_ready(wc_in_ready), .out_data(wc_out_data), .out_valid(wc_out_valid), .out_ready(wc_out_ready));
    end else begin : g_no_wc
        assign {wc_in_ready, wc_out_data, wc_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_pad") begin : g_pad
        mase_pad #(.W(PAD_W), .LANES(PAD_LANES), .SEG(PAD_SEG), .SEG_PAD(PAD_SEG_PAD)) u (.clk, .rst,
            .in_data(pad_in_data), .in_valid(pad_in_valid), .in_ready(pad_in_ready), .out_data(pad_out_data),
            .out_valid(pad_out_valid), .out_ready(pad_out_ready));
    end else begin : g_no_pad
        assign {pad_in_ready, pad_out_data, pad_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_transpose_pad") begin : g_tp
        mase_transpose_pad #(.W(TP_W), .LANES(TP_LANES), .F(TP_F), .T(TP_T), .T_PAD(TP_T_PAD), .STEP(TP_STEP)) u (.clk, .rst,
            .in_data(tp_in_data), .in_valid(tp_in_valid), .in_ready(tp_in_ready), .out_data(tp_out_data),
            .out_valid(tp_out_valid), .out_ready(tp_out_ready));
    end else begin : g_no_tp
        assign {tp_in_ready, tp_out_data, tp_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_pos_tag") begin : g_pos
        mase_pos_tag #(.WIDTH(POS_WIDTH), .POS_W(POS_POS_W), .BEATS(POS_BEATS)) u (.clk, .rst,
            .in_data(pos_in_data), .in_valid(pos_in_valid), .in_ready(pos_in_ready), .out_data(pos_out_data),
            .out_valid(pos_out_valid), .out_ready(pos_out_ready));
    end else begin : g_no_pos
        assign {pos_in_ready, pos_out_data, pos_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_rope_pack") begin : g_rp
        mase_rope_pack #(.LANES(RP_LANES), .W(RP_W), .HEAD_DIM(RP_HEAD_DIM), .HEADS(RP_HEADS), .POS_W(RP_POS_W))
            u (.clk, .rst, .in_data(rp_in_data), .in_valid(rp_in_valid), .in_ready(rp_in_ready),
            .out_data(rp_out_data), .out_valid(rp_out_valid), .out_ready(rp_out_ready));
    end else begin : g_no_rp
        assign {rp_in_ready, rp_out_data, rp_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_rope_unpack") begin : g_ru
        mase_rope_unpack #(.LANES(RU_LANES), .W(RU_W), .HEAD_DIM(RU_HEAD_DIM)) u (.clk, .rst,
            .in_data(ru_in_data), .in_valid(ru_in_valid), .in_ready(ru_in_ready), .out_data(ru_out_data),
            .out_valid(ru_out_valid), .out_ready(ru_out_ready));
    end else begin : g_no_ru
        assign {ru_in_ready, ru_out_data, ru_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_param_rom") begin : g_rom
        mase_param_rom #(.WIDTH(ROM_WIDTH), .DEPTH(ROM_DEPTH), .FILE(ROM_FILE)) u (.clk, .rst,
            .out_data(rom_out_data), .out_valid(rom_out_valid), .out_ready(rom_out_ready));
    end else begin : g_no_rom
        assign {rom_out_data, rom_out_valid} = '0;
    end

    if (ALL || ONLY == "mase_attn_matmul") begin : g_am
        mase_attn_matmul #(.HEADS(AM_HEADS), .KV_HEADS(AM_KV_HEADS), .ROWS(AM_ROWS), .N(AM_N), .N_PAD(AM_N_PAD),
            .D(AM_D), .K(AM_K), .K_OUT(AM_K_OUT), .PAR_D(AM_PAR_D), .A_WIDTH(AM_A_WIDTH), .A_EBITS(AM_A_EBITS),
            .B_WIDTH(AM_B_WIDTH), .B_EBITS(AM_B_EBITS), .O_WIDTH(AM_O_WIDTH), .O_EBITS(AM_O_EBITS),
            .ACC_LSB(AM_ACC_LSB), .ACC_W(AM_ACC_W), .B_GROUP_MAJOR(AM_B_GROUP_MAJOR),
            .A_FIXED_SCALE(AM_A_FIXED_SCALE), .B_FIXED_SCALE(AM_B_FIXED_SCALE), .O_FIXED_SCALE(AM_O_FIXED_SCALE),
            .OUT_PAR(AM_OUT_PAR), .CHUNK(AM_CHUNK))
            u (.clk, .rst, .a_data(am_a_data), .a_valid(am_a_valid), .a_ready(am_a_ready), .b_data(am_b_data),
            .b_valid(am_b_valid), .b_ready(am_b_ready), .out_data(am_out_data), .out_valid(am_out_valid),
            .out_ready(am_out_ready));
    end else begin : g_no_am
        assign {am_a_ready, am_b_ready, am_out_data, am_out_valid} = '0;
    end
endmodule
