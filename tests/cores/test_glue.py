"""The glue modules of mase:mx:glue (what a generated top level puts between the cores), each against a
small Python reference, bit for bit, with and without random input stalls and output back-pressure.

One testbench (cores/glue/tb/tb_mase_glue.sv) holds every module, so that the two parameter sets
below are two Verilator builds shared by all cases; each case plays only its module's ports."""

from __future__ import annotations

import random

import pytest
import torch

from mase.eda import build_sim, pack_fields, unpack_fields, write_hex
from mase.golden import AccSpec, elem_spec, linear_int, requantize

from .mxdata import FORMATS, block_beats, random_quantized

# Two parameter sets of tb_mase_glue: near what the compiler generates for tiny-llama (A: one lane,
# scaled MX lanes up, GQA attention with padded rows) and the other branches (B: several lanes,
# fixed-point lanes down, fixed8 attention with V transposed).
CONFIGS = {
    "A": dict(WC_IN_LANES=1, WC_OUT_LANES=4, WC_ELEM_W=4, WC_HAS_SCALE=1,
              PAD_W=16, PAD_LANES=1, PAD_SEG=8, PAD_SEG_PAD=16,
              TP_W=16, TP_LANES=1, TP_F=4, TP_T=5, TP_T_PAD=8,
              POS_WIDTH=20, POS_POS_W=4, POS_BEATS=3,
              RP_LANES=1, RP_W=16, RP_HEAD_DIM=8, RP_HEADS=2, RP_POS_W=4,
              RU_LANES=1, RU_W=16, RU_HEAD_DIM=8,
              ROM_WIDTH=16, ROM_DEPTH=6, ROM_ROW=2, ROM_REPEAT=3,  # 3 blocks (hw.fold's layers) of 2
              AM_HEADS=4, AM_KV_HEADS=2, AM_ROWS=3, AM_N=3, AM_N_PAD=8, AM_D=16, AM_K=8, AM_K_OUT=4, AM_PAR_D=2,
              AM_A_WIDTH=4, AM_A_EBITS=0, AM_B_WIDTH=4, AM_B_EBITS=0, AM_O_WIDTH=8, AM_O_EBITS=0,
              AM_ACC_LSB=-20, AM_ACC_W=32, AM_B_GROUP_MAJOR=0,
              AM_A_FIXED_SCALE=-1, AM_B_FIXED_SCALE=-1, AM_O_FIXED_SCALE=-1, AM_OUT_PAR=2, AM_CHUNK=1),
    "B": dict(WC_IN_LANES=4, WC_OUT_LANES=1, WC_ELEM_W=12, WC_HAS_SCALE=0,
              PAD_W=18, PAD_LANES=2, PAD_SEG=6, PAD_SEG_PAD=16,
              TP_W=12, TP_LANES=2, TP_F=4, TP_T=5, TP_T_PAD=8,
              POS_WIDTH=8, POS_POS_W=16, POS_BEATS=1, POS_TOKENS=5,  # positions restart every 5 tokens (hw.fold)
              RP_LANES=2, RP_W=12, RP_HEAD_DIM=16, RP_HEADS=3, RP_POS_W=16, RP_TOKENS=7,
              RU_LANES=2, RU_W=12, RU_HEAD_DIM=16,
              ROM_WIDTH=20, ROM_DEPTH=1,
              AM_HEADS=2, AM_KV_HEADS=2, AM_ROWS=2, AM_N=4, AM_N_PAD=4, AM_D=8, AM_K=8, AM_K_OUT=4, AM_PAR_D=4,
              AM_A_WIDTH=8, AM_A_EBITS=0, AM_B_WIDTH=8, AM_B_EBITS=0, AM_O_WIDTH=8, AM_O_EBITS=0,
              AM_ACC_LSB=-24, AM_ACC_W=32, AM_B_GROUP_MAJOR=1,
              AM_A_FIXED_SCALE=121, AM_B_FIXED_SCALE=125, AM_O_FIXED_SCALE=124),
}
# C: only mase_attn_matmul, causal chunks of V^T (B_GROUP_MAJOR = 1), 2 chunks of 8 rows (the others
# are played by A and B: A chunks keys and packs two outputs a beat, B is the whole-prompt core)
AM_ONLY = {"C": dict(CONFIGS["B"], AM_HEADS=2, AM_KV_HEADS=1, AM_ROWS=16, AM_N=3, AM_N_PAD=4, AM_D=16, AM_K=8,
                     AM_K_OUT=4, AM_PAR_D=4, AM_A_WIDTH=4, AM_B_WIDTH=4, AM_ACC_LSB=-20, AM_A_FIXED_SCALE=-1,
                     AM_B_FIXED_SCALE=-1, AM_O_FIXED_SCALE=-1, AM_CHUNK=8, TP_STEP=1)}  # + the V cache of decode
# E: A's K cache (CHUNK 1, 2 KV groups) with a buffer and replay per group (B_PER_GROUP, the causal prefill)
AM_ONLY["E"] = dict(CONFIGS["A"], AM_ROWS=5, AM_N=5, AM_B_PER_GROUP=1)
# D: the KV-cache decode design under layer reuse (hw.fold): every token passes the reused layer once per
# bank (pass); the K cache (Q.K^T, CHUNK 1) and the V cache (STEP 1) keep a bank per pass, the positions
# hold for the passes (HOLD)
FOLD = {"D": dict(CONFIGS["B"], AM_HEADS=2, AM_KV_HEADS=1, AM_ROWS=3, AM_N=3, AM_N_PAD=4, AM_D=16, AM_K=8,
                  AM_K_OUT=4, AM_PAR_D=4, AM_A_WIDTH=4, AM_B_WIDTH=4, AM_ACC_LSB=-20, AM_A_FIXED_SCALE=-1,
                  AM_B_FIXED_SCALE=-1, AM_O_FIXED_SCALE=-1, AM_B_GROUP_MAJOR=0, AM_OUT_PAR=1, AM_CHUNK=1,
                  AM_BANKS=2, TP_STEP=1, TP_BANKS=3, POS_TOKENS=0, POS_HOLD=3, RP_TOKENS=0, RP_HOLD=2)}
STALLS = [(0, 0, 1), (35, 35, 2)]  # (stall %, back-pressure %, seed)
_SIMS: dict = {}


def glue_sim(cfg: str):
    """The Verilator build of tb_mase_glue for one parameter set (built once per session)."""
    if cfg not in _SIMS:
        _SIMS[cfg] = build_sim("mase:mx:glue", {**CONFIGS, **AM_ONLY, **FOLD}[cfg])
    return _SIMS[cfg]


def run(cfg: str, inputs: dict, outputs: dict, widths: dict, stall: int, bp: int, seed: int):
    return glue_sim(cfg).run(inputs, outputs, stall=stall, bp=bp, seed=seed, widths=widths, via_fusesoc=False)


def rand_words(rng: random.Random, n: int, bits: int) -> list[int]:
    return [rng.randrange(1 << bits) for _ in range(n)]


# ------------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------------
def ref_width_conv(beats, il, ol, ew, has_scale):
    iw, ow = il * ew, ol * ew
    out = []
    if ol >= il:
        r = ol // il
        for g in range(0, len(beats), r):
            grp = beats[g:g + r]
            body = sum((b & ((1 << iw) - 1)) << (i * iw) for i, b in enumerate(grp))
            out.append(body | ((grp[0] >> iw) << ow if has_scale else 0))
    else:
        for b in beats:
            for i in range(il // ol):
                out.append(((b >> (i * ow)) & ((1 << ow) - 1)) | ((b >> iw) << ow if has_scale else 0))
    return out


def ref_pad(beats, lanes, seg, seg_pad):
    ib, tb = seg // lanes, seg_pad // lanes
    out = []
    for s in range(0, len(beats), ib):
        out += beats[s:s + ib] + [0] * (tb - ib)
    return out


def ref_transpose_pad(beats, w, lanes, f, t, t_pad):
    per = t * f // lanes
    out = []
    for g in range(0, len(beats), per):
        mem = [e for b in beats[g:g + per] for e in unpack_fields(b, w, lanes)]  # token-major t*F + f
        for ff in range(f):
            for rt in range(0, t_pad, lanes):
                out.append(pack_fields([mem[(rt + i) * f + ff] if rt + i < t else 0 for i in range(lanes)], w))
    return out


def ref_transpose_step(beats, w, lanes, f, t, t_pad):
    """STEP = 1 (V cache): after each token, the tokens written so far of the sequence (T tokens), then zeros."""
    per = f // lanes
    out, mem = [], [0] * (t * f)
    for i in range(0, len(beats), per):
        tc = (i // per) % t
        mem[tc * f:(tc + 1) * f] = [e for b in beats[i:i + per] for e in unpack_fields(b, w, lanes)]
        for ff in range(f):
            for rt in range(0, t_pad, lanes):
                out.append(pack_fields([mem[(rt + j) * f + ff] if rt + j <= tc else 0 for j in range(lanes)], w))
    return out


def ref_transpose_step_banks(beats, w, lanes, f, t, t_pad, banks):
    """STEP = 1 with BANKS V caches: token t arrives once per bank (bank 0 first) and drains its bank's
    tokens 0..t; the token advances after the last bank."""
    per = f // lanes
    out, mem = [], [[0] * (t * f) for _ in range(banks)]
    for i in range(0, len(beats), per):
        tc, b = (i // per // banks) % t, (i // per) % banks
        mem[b][tc * f:(tc + 1) * f] = [e for x in beats[i:i + per] for e in unpack_fields(x, w, lanes)]
        for ff in range(f):
            for rt in range(0, t_pad, lanes):
                out.append(pack_fields([mem[b][(rt + j) * f + ff] if rt + j <= tc else 0 for j in range(lanes)], w))
    return out


def ref_pos_tag(beats, width, pos_w, n_beats, tokens=0, hold=1):
    return [((((i // n_beats // hold) % (tokens or 1 << 30)) % (1 << pos_w)) << width) | b for i, b in enumerate(beats)]


def ref_rope_pack(beats, lanes, w, head_dim, heads, pos_w, tokens=0, hold=1):
    hb, lw = head_dim // (2 * lanes), lanes * w
    out = []
    for h, s in enumerate(range(0, len(beats), 2 * hb)):
        pos = ((h // heads // hold) % (tokens or 1 << 30)) % (1 << pos_w)
        lo, hi = beats[s:s + hb], beats[s + hb:s + 2 * hb]
        out += [(pos << (2 * lw)) | (x_hi << lw) | x_lo for x_lo, x_hi in zip(lo, hi)]
    return out


def ref_rope_unpack(beats, lanes, w, head_dim):
    hb, lw = head_dim // (2 * lanes), lanes * w
    out = []
    for s in range(0, len(beats), hb):
        pairs = beats[s:s + hb]
        out += [b & ((1 << lw) - 1) for b in pairs] + [b >> lw for b in pairs]
    return out


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", CONFIGS)
def test_width_conv(cfg):
    p = CONFIGS[cfg]
    il, ol, ew, hs = p["WC_IN_LANES"], p["WC_OUT_LANES"], p["WC_ELEM_W"], p["WC_HAS_SCALE"]
    rng = random.Random(1)
    n = 4 * (ol // il if ol > il else 1) * 16
    iw = 8 * hs + il * ew
    beats = rand_words(rng, n, iw) + [(1 << iw) - 1] * (ol // il if ol > il else 1)
    exp = ref_width_conv(beats, il, ol, ew, hs)
    for stall, bp, seed in STALLS:
        res = run(cfg, {"wc_in": beats}, {"wc_out": len(exp)}, {"wc_in": iw}, stall, bp, seed)
        assert res.outputs["wc_out"] == exp, f"stall={stall} bp={bp}"
        if stall == bp == 0:  # the side with more beats moves one every cycle
            side, beats_n = ("wc_in", len(beats)) if ol >= il else ("wc_out", len(exp))
            assert res.stats[f"{side}_last"] - res.stats[f"{side}_first"] == beats_n - 1


@pytest.mark.parametrize("cfg", CONFIGS)
def test_pad(cfg):
    p = CONFIGS[cfg]
    w, lanes, seg, seg_pad = p["PAD_W"], p["PAD_LANES"], p["PAD_SEG"], p["PAD_SEG_PAD"]
    rng = random.Random(2)
    beats = rand_words(rng, 12 * seg // lanes, lanes * w)
    exp = ref_pad(beats, lanes, seg, seg_pad)
    for stall, bp, seed in STALLS:
        res = run(cfg, {"pad_in": beats}, {"pad_out": len(exp)}, {"pad_in": lanes * w}, stall, bp, seed)
        assert res.outputs["pad_out"] == exp, f"stall={stall} bp={bp}"
        if stall == bp == 0:  # an output beat every cycle (the zeros fill the gaps of the input)
            assert res.stats["pad_out_last"] - res.stats["pad_out_first"] == len(exp) - 1


@pytest.mark.parametrize("cfg", CONFIGS)
def test_transpose_pad(cfg):
    p = CONFIGS[cfg]
    w, lanes, f, t, t_pad = p["TP_W"], p["TP_LANES"], p["TP_F"], p["TP_T"], p["TP_T_PAD"]
    rng = random.Random(3)
    beats = rand_words(rng, 3 * t * f // lanes, lanes * w)  # three prompts
    exp = ref_transpose_pad(beats, w, lanes, f, t, t_pad)
    for stall, bp, seed in STALLS:
        res = run(cfg, {"tp_in": beats}, {"tp_out": len(exp)}, {"tp_in": lanes * w}, stall, bp, seed)
        assert res.outputs["tp_out"] == exp, f"stall={stall} bp={bp}"
        if stall == bp == 0:  # per prompt: fill and drain a beat a cycle, one cycle from the last write to
            # the first beat (the read register); the next fill starts with the last beat of the drain
            assert res.stats["tp_out_last"] - res.stats["tp_in_first"] == len(beats) + len(exp)


def test_transpose_pad_step():
    """The V cache of KV-cache decode: every token drains V^T of the tokens so far (two sequences and a bit)."""
    p = {**CONFIGS, **AM_ONLY}["C"]
    w, lanes, f, t, t_pad = p["TP_W"], p["TP_LANES"], p["TP_F"], p["TP_T"], p["TP_T_PAD"]
    beats = rand_words(random.Random(9), (2 * t + 2) * f // lanes, lanes * w)
    exp = ref_transpose_step(beats, w, lanes, f, t, t_pad)
    for stall, bp, seed in STALLS:
        res = run("C", {"tp_in": beats}, {"tp_out": len(exp)}, {"tp_in": lanes * w}, stall, bp, seed)
        assert res.outputs["tp_out"] == exp, f"stall={stall} bp={bp}"


@pytest.mark.parametrize("cfg", CONFIGS)
def test_pos_tag(cfg):
    p = CONFIGS[cfg]
    width, pos_w, nb = p["POS_WIDTH"], p["POS_POS_W"], p["POS_BEATS"]
    rng = random.Random(4)
    beats = rand_words(rng, nb * ((1 << min(pos_w, 5)) + 3), width)  # the position wraps (POS_W = 4)
    exp = ref_pos_tag(beats, width, pos_w, nb, p.get("POS_TOKENS", 0))
    for stall, bp, seed in STALLS:
        res = run(cfg, {"pos_in": beats}, {"pos_out": len(exp)}, {"pos_in": width}, stall, bp, seed)
        assert res.outputs["pos_out"] == exp, f"stall={stall} bp={bp}"
        if stall == bp == 0:
            assert res.stats["pos_out_last"] - res.stats["pos_out_first"] == len(exp) - 1


@pytest.mark.parametrize("cfg", CONFIGS)
def test_rope_pack(cfg):
    p = CONFIGS[cfg]
    lanes, w, hd, heads, pos_w = p["RP_LANES"], p["RP_W"], p["RP_HEAD_DIM"], p["RP_HEADS"], p["RP_POS_W"]
    rng = random.Random(5)
    beats = rand_words(rng, (hd // lanes) * heads * 18, lanes * w)  # 18 tokens: the position wraps (POS_W = 4)
    exp = ref_rope_pack(beats, lanes, w, hd, heads, pos_w, p.get("RP_TOKENS", 0))
    for stall, bp, seed in STALLS:
        res = run(cfg, {"rp_in": beats}, {"rp_out": len(exp)}, {"rp_in": lanes * w}, stall, bp, seed)
        assert res.outputs["rp_out"] == exp, f"stall={stall} bp={bp}"
        if stall == bp == 0:  # an input beat every cycle
            assert res.stats["rp_in_last"] - res.stats["rp_in_first"] == len(beats) - 1


@pytest.mark.parametrize("cfg", CONFIGS)
def test_rope_unpack(cfg):
    p = CONFIGS[cfg]
    lanes, w, hd = p["RU_LANES"], p["RU_W"], p["RU_HEAD_DIM"]
    rng = random.Random(6)
    beats = rand_words(rng, (hd // (2 * lanes)) * 20, 2 * lanes * w)
    exp = ref_rope_unpack(beats, lanes, w, hd)
    for stall, bp, seed in STALLS:
        res = run(cfg, {"ru_in": beats}, {"ru_out": len(exp)}, {"ru_in": 2 * lanes * w}, stall, bp, seed)
        assert res.outputs["ru_out"] == exp, f"stall={stall} bp={bp}"
        if stall == bp == 0:  # an output beat every cycle
            assert res.stats["ru_out_last"] - res.stats["ru_out_first"] == len(exp) - 1


@pytest.mark.parametrize("cfg", CONFIGS)
def test_param_rom(cfg):
    p = CONFIGS[cfg]
    width, depth = p["ROM_WIDTH"], p["ROM_DEPTH"]
    row, rep = p.get("ROM_ROW", depth), p.get("ROM_REPEAT", 1)
    rng = random.Random(7)
    words = rand_words(rng, depth, width)
    # block b (ROW words) REPEAT times, then block b + 1, cyclically
    order = [b * row + i for b in range(depth // row) for _ in range(rep) for i in range(row)]
    sim = glue_sim(cfg)
    for stall, bp, seed in STALLS:
        write_hex(sim.work_root / "rom.hex", words, width)  # ROM_FILE, read when the simulation starts
        n = 3 * len(order) + 2
        res = run(cfg, {}, {"rom_out": n}, {}, stall, bp, seed)
        assert res.outputs["rom_out"] == [words[order[i % len(order)]] for i in range(n)], f"bp={bp}"
        if stall == bp == 0:
            assert res.stats["rom_out_last"] - res.stats["rom_out_first"] == n - 1


def _attn_operand(fmt: str, fixed: int, rows: int, d: int, k: int, gen: torch.Generator):
    """(codes (rows, d/k, k), scale bytes the core computes with, scale bytes on the stream)."""
    if fixed < 0:
        codes, scales = random_quantized(fmt, rows, d, k, gen)
        return codes, scales, scales
    codes = torch.randint(0, 256, (rows, d // k, k), generator=gen)
    wire = torch.randint(0, 256, (rows, d // k), generator=gen)  # ignored by the core: a constant scale
    return codes, torch.full_like(wire, fixed), wire


@pytest.mark.parametrize("cfg", [*CONFIGS, *AM_ONLY])
def test_attn_matmul(cfg):
    """Rows of C for every head (GQA), padded rows; AM_CHUNK > 0: the rows of chunk c against B with its
    causal chunks > c zeroed (keys: rows of B; V^T: columns), B streamed once, V^T chunk by chunk."""
    p = {**CONFIGS, **AM_ONLY}[cfg]
    chunk = p.get("AM_CHUNK", 0)
    heads, kv, rows, n, n_pad, d, k, k_out, pd = (p[x] for x in (
        "AM_HEADS", "AM_KV_HEADS", "AM_ROWS", "AM_N", "AM_N_PAD", "AM_D", "AM_K", "AM_K_OUT", "AM_PAR_D"))
    names = {v: f for f, v in FORMATS.items() if f != "fixed8"}
    fa = "fixed8" if p["AM_A_FIXED_SCALE"] >= 0 else names[(p["AM_A_WIDTH"], p["AM_A_EBITS"])]
    fb = "fixed8" if p["AM_B_FIXED_SCALE"] >= 0 else names[(p["AM_B_WIDTH"], p["AM_B_EBITS"])]
    fo = "fixed8" if p["AM_O_FIXED_SCALE"] >= 0 else names[(p["AM_O_WIDTH"], p["AM_O_EBITS"])]
    acc = AccSpec(p["AM_ACC_LSB"], p["AM_ACC_W"])
    gen = torch.Generator().manual_seed(8)
    a_beats, b_beats, exp = [], [], []
    for _ in range(2):  # two prompts
        a = [_attn_operand(fa, p["AM_A_FIXED_SCALE"], rows, d, k, gen) for _ in range(heads)]
        b = [_attn_operand(fb, p["AM_B_FIXED_SCALE"], n, d, k, gen) for _ in range(kv)]
        for r in range(rows):  # A: token by token, its heads one after the other
            for h in range(heads):
                a_beats += block_beats(a[h][0][r], a[h][2][r], p["AM_A_WIDTH"], pd)
        if p["AM_B_GROUP_MAJOR"] and chunk:  # V^T chunk by chunk: group by group, N rows of CHUNK columns
            for ci in range(rows // chunk):
                blk = slice(ci * chunk // k, (ci + 1) * chunk // k)
                for g in range(kv):
                    for r in range(n):
                        b_beats += block_beats(b[g][0][r][blk], b[g][2][r][blk], p["AM_B_WIDTH"], pd)
        elif p["AM_B_GROUP_MAJOR"]:  # B: group by group, N rows each
            for g in range(kv):
                for r in range(n):
                    b_beats += block_beats(b[g][0][r], b[g][2][r], p["AM_B_WIDTH"], pd)
        else:  # B: token by token, its groups one after the other
            for r in range(n):
                for g in range(kv):
                    b_beats += block_beats(b[g][0][r], b[g][2][r], p["AM_B_WIDTH"], pd)
        c = []
        for h in range(heads):
            g = h // (heads // kv)
            bc = torch.cat([b[g][0], torch.zeros(n_pad - n, d // k, k, dtype=torch.int64)])  # zero rows
            bs = torch.cat([b[g][1], torch.full((n_pad - n, d // k), max(p["AM_B_FIXED_SCALE"], 0), dtype=torch.int64)])
            parts = [(slice(0, rows), bc)]
            if chunk:  # chunk c: B's causal chunks beyond c are zeros
                parts = []
                for ci in range(rows // chunk):
                    bz = bc.clone()
                    if p["AM_B_GROUP_MAJOR"]:
                        bz[:, (ci + 1) * chunk // k:] = 0
                    else:
                        bz[(ci + 1) * chunk:] = 0
                    parts.append((slice(ci * chunk, (ci + 1) * chunk), bz))
            total = torch.cat([linear_int(elem_spec(fa).to_int(a[h][0][sl]), a[h][1][sl], elem_spec(fa),
                                          elem_spec(fb).to_int(bz), bs, elem_spec(fb), None, acc) for sl, bz in parts])
            oc, osc = requantize(total, acc.lsb, fo, k_out,
                                 p["AM_O_FIXED_SCALE"] if p["AM_O_FIXED_SCALE"] >= 0 else None)
            c.append((oc & ((1 << p["AM_O_WIDTH"]) - 1), osc))
        for r in range(rows):  # rows of C token by token, head after head, OUT_PAR elements a beat
            for h in range(heads):
                exp += block_beats(c[h][0][r], c[h][1][r], p["AM_O_WIDTH"], p.get("AM_OUT_PAR", 1))
    for stall, bp, seed in STALLS:
        res = run(cfg, {"am_a": a_beats, "am_b": b_beats}, {"am_out": len(exp)},
                  {"am_a": 8 + pd * p["AM_A_WIDTH"], "am_b": 8 + pd * p["AM_B_WIDTH"]}, stall, bp, seed)
        assert res.outputs["am_out"] == exp, f"stall={stall} bp={bp}"


def test_fold_decode_state():
    """Config D (hw.fold decode): the V cache's banks (3 passes a token, two sequences of 5 tokens and a
    bit), the positions held for 3 (mase_pos_tag) and 2 (mase_rope_pack) passes."""
    p = FOLD["D"]
    w, lanes, f, t, t_pad, banks = (p[k] for k in ("TP_W", "TP_LANES", "TP_F", "TP_T", "TP_T_PAD", "TP_BANKS"))
    rng = random.Random(10)
    cases = []
    beats = rand_words(rng, (2 * t + 2) * banks * f // lanes, lanes * w)
    cases.append(("tp", beats, ref_transpose_step_banks(beats, w, lanes, f, t, t_pad, banks), lanes * w))
    width, pos_w, nb = p["POS_WIDTH"], p["POS_POS_W"], p["POS_BEATS"]
    beats = rand_words(rng, nb * 40, width)
    cases.append(("pos", beats, ref_pos_tag(beats, width, pos_w, nb, 0, p["POS_HOLD"]), width))
    lanes, w, hd, heads, pos_w = p["RP_LANES"], p["RP_W"], p["RP_HEAD_DIM"], p["RP_HEADS"], p["RP_POS_W"]
    beats = rand_words(rng, (hd // lanes) * heads * 10, lanes * w)
    cases.append(("rp", beats, ref_rope_pack(beats, lanes, w, hd, heads, pos_w, 0, p["RP_HOLD"]), lanes * w))
    for name, beats, exp, bits in cases:
        for stall, bp, seed in STALLS:
            res = run("D", {f"{name}_in": beats}, {f"{name}_out": len(exp)}, {f"{name}_in": bits}, stall, bp, seed)
            assert res.outputs[f"{name}_out"] == exp, f"{name} stall={stall} bp={bp}"


def test_attn_matmul_banks():
    """Config D: the K cache of the folded decode design (CHUNK 1, BANKS 2): every row of A (a token)
    arrives once per bank, with that bank's new key; row r of bank b is computed against bank b's keys
    0..r (later keys zero), each bank replaying its own earlier keys. Two sequences of 3 tokens."""
    p = FOLD["D"]
    heads, kv, rows, n, n_pad, d, k, k_out, pd, banks = (p[x] for x in (
        "AM_HEADS", "AM_KV_HEADS", "AM_ROWS", "AM_N", "AM_N_PAD", "AM_D", "AM_K", "AM_K_OUT", "AM_PAR_D", "AM_BANKS"))
    names = {v: f for f, v in FORMATS.items() if f != "fixed8"}
    fa, fb = names[(p["AM_A_WIDTH"], p["AM_A_EBITS"])], names[(p["AM_B_WIDTH"], p["AM_B_EBITS"])]
    fo = names[(p["AM_O_WIDTH"], p["AM_O_EBITS"])]
    acc = AccSpec(p["AM_ACC_LSB"], p["AM_ACC_W"])
    gen = torch.Generator().manual_seed(11)
    a_beats, b_beats, exp = [], [], []
    for _ in range(2):  # two sequences
        a = [[_attn_operand(fa, -1, rows, d, k, gen) for _ in range(heads)] for _ in range(banks)]
        b = [[_attn_operand(fb, -1, n, d, k, gen) for _ in range(kv)] for _ in range(banks)]
        for r in range(rows):
            for bk in range(banks):  # the token's pass bk: its A rows (heads), its new key (groups)
                for h in range(heads):
                    a_beats += block_beats(a[bk][h][0][r], a[bk][h][2][r], p["AM_A_WIDTH"], pd)
                for g in range(kv):
                    b_beats += block_beats(b[bk][g][0][r], b[bk][g][2][r], p["AM_B_WIDTH"], pd)
                for h in range(heads):
                    g = h // (heads // kv)
                    bc = torch.cat([b[bk][g][0], torch.zeros(n_pad - n, d // k, k, dtype=torch.int64)])
                    bs = torch.cat([b[bk][g][1], torch.zeros(n_pad - n, d // k, dtype=torch.int64)])
                    bc[r + 1:] = 0  # keys after the token's: zeros
                    total = linear_int(elem_spec(fa).to_int(a[bk][h][0][r:r + 1]), a[bk][h][1][r:r + 1], elem_spec(fa),
                                       elem_spec(fb).to_int(bc), bs, elem_spec(fb), None, acc)
                    oc, osc = requantize(total, acc.lsb, fo, k_out, None)
                    exp += block_beats((oc & ((1 << p["AM_O_WIDTH"]) - 1))[0], osc[0], p["AM_O_WIDTH"], 1)
    for stall, bp, seed in STALLS:
        res = run("D", {"am_a": a_beats, "am_b": b_beats}, {"am_out": len(exp)},
                  {"am_a": 8 + pd * p["AM_A_WIDTH"], "am_b": 8 + pd * p["AM_B_WIDTH"]}, stall, bp, seed)
        assert res.outputs["am_out"] == exp, f"stall={stall} bp={bp}"
