"""The analytical resource model of the cores: LUT, FF, DSP and BRAM of one core instance from its
parameters (the ones `mase.compiler.cores.map_node` gives it), per architecture family.

    >>> estimate("mase:mx:mx_linear", "mx_linear", params, "ecp5")   # {'lut': .., 'ff': .., 'dsp': .., 'bram': ..}

Each core kind has a small functional form per resource (FEATURES: lanes, element / accumulator
widths, format kind: MX integer, MX minifloat or fixed-point, memory bits), a linear combination of
features whose coefficients (COEF) are fitted per architecture family on Yosys figures of every
distinct node configuration of tiny-llama and tiny-opt in mxint4, mxint8, mxfp4 and fixed8 by
benchmarks/bench_resource_model.py (synth_ecp5: LUT4 + 2 per CCU2C + 4 per TRELLIS_DPR16X4, TRELLIS_FF,
MULT18X18D, DP16KD; synth_xilinx -family xcup -flatten: LUT1-6, FD*, DSP48E2, RAMB36E2 + RAMB18E2 / 2).
Families: ecp5, xcup (UltraScale+). iCE40 is not fitted (synth_ice40 keeps the multipliers in LUTs
and its 4 Kbit EBRs differ): the plan keeps params.py's older constants there (FITTED).
The FIFOs on a node's input edges and the width converters between nodes are not part of a core
(mase.compiler.params adds them).
"""

from __future__ import annotations

import math
from typing import Any, Callable

FAMILY = {"ecp5": "ecp5", "ice40": "ecp5", "virtexuplus": "xcup", "ultrascaleplus": "xcup", "xcup": "xcup"}
KEYS = ("lut", "ff", "dsp", "bram")
# an estimate within ABS_TOL of Yosys counts as exact whatever its relative error (tiny counts)
ABS_TOL = {"lut": 20, "ff": 20, "dsp": 0.5, "bram": 0.5}

# target families the compiler's plan takes this model for (mase.compiler.params); others (iCE40) keep
# params.py's older per-lane constants
FITTED = ("ecp5", "virtexuplus", "ultrascaleplus", "xcup")
KIND = {"mx_linear": "linear", "mase_attn_matmul": "attn_matmul", "mx_matmul": "matmul", "mx_quantize": "quantize",
        "mx_dequantize": "dequantize", "mx_rmsnorm": "rmsnorm", "mx_layernorm": "layernorm", "mx_softmax": "softmax",
        "mx_rope": "rope", "mx_swiglu": "swiglu", "mx_activation": "act", "mx_residual_add": "residual"}


def kind_of(core: str, module: str) -> str:
    return KIND.get(module, module)


def family_of(arch_or_family: str | None) -> str:
    return FAMILY.get(str(arch_or_family or ""), "xcup")


# ------------------------------------------------------------------------------------------------
# format helpers: an operand is (WIDTH, EBITS, FIXED_SCALE)
# ------------------------------------------------------------------------------------------------
def _mag(width: int, ebits: int) -> int:
    """Bits of an element as the integer the multipliers take (mx_elem_to_int): the code itself for
    MXINT and fixed8, sign + mantissa shifted by up to 2^EBITS - 1 for a minifloat (FP4 E2M1: 5)."""
    return width if ebits == 0 else width - ebits + (1 << ebits) - 1


def _mx(scale: int) -> int:
    return 1 if int(scale) < 0 else 0  # *_FIXED_SCALE = -1: an MX stream with a scale byte per block


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def _blocks(family: str, width: int, depth: int, dual: bool = False) -> float:
    """Block RAMs of a width x depth memory as Yosys maps it: ECP5 DP16KD (18 Kbit; 36 bits wide at 512
    words for a ROM, 18 wide at 1024 for a RAM written and read at once, 9 at 2048, ...), UltraScale+
    RAMB36E2 (72 wide at 512 words, 36 at 1024; a RAMB18E2 counts 1/2). On UltraScale+ small memories
    become LUTs or LUT RAM (a ROM of at most 128 words, a RAM of at most 4 Kbit): no block."""
    if width <= 0 or depth <= 0:
        return 0.0
    if family == "ecp5":
        shapes = ((18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384)) + (() if dual else ((36, 512),))
        return float(min(math.ceil(width / w) * math.ceil(depth / d) for w, d in shapes))
    if (not dual and depth <= 128) or (dual and width * depth < 4096):
        return 0.0
    shapes = ((72, 512, 1.0), (36, 1024, 1.0), (36, 512, 0.5), (18, 2048, 1.0), (18, 1024, 0.5))
    return float(min(math.ceil(width / w) * math.ceil(depth / d) * c for w, d, c in shapes))


LUTRAM_MAX_BITS = 2048  # smaller buffers go to LUT RAM / registers (as params.FIFO_BRAM_MIN_BITS)


def block_bits(family: str) -> int:
    """Bits of one block RAM of the family (the unit of ram_blocks and of a target's `resources.bram`)."""
    return {"ecp5": 18, "ice40": 4}.get("ice40" if str(family) == "ice40" else family_of(family), 36) * 1024


def ram_blocks(family: str, width: int, depth: int) -> float:
    """Block RAMs of a buffer with one write and one read port (a FIFO, a ROM, a row buffer) of width x
    depth, as Yosys maps it: the cheapest of the family's shapes (ECP5: DP16KD / PDPW16KD, 18 Kbit, up to
    36 x 512; UltraScale+: as _blocks; iCE40: SB_RAM40_4K, 16 x 256 .. 2 x 2048); LUT RAM below
    LUTRAM_MAX_BITS. Measured on the folded smollm2-135m on the ECP5-85: a 32 x 8192 FIFO takes 16
    DP16KD, a 16 x 17280 parameter ROM 16-17, a 12 x 8192 FIFO 6."""
    if width <= 0 or depth <= 0 or width * depth < LUTRAM_MAX_BITS:
        return 0.0
    fam = "ice40" if str(family) == "ice40" else family_of(family)
    if fam == "ecp5":
        shapes = ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))
    elif fam == "ice40":
        shapes = ((16, 256), (8, 512), (4, 1024), (2, 2048))
    else:
        return _blocks(fam, width, depth, dual=True)
    return float(min(math.ceil(width / w) * math.ceil(depth / d) for w, d in shapes))


# ------------------------------------------------------------------------------------------------
# features per core kind and resource (each a function of the core parameters P and the family)
# ------------------------------------------------------------------------------------------------
Feat = Callable[[dict, str], float]


PACK_DEFINED = ("xcup",)  # families whose synthesis defines MASE_DSP_PACK (mase.eda.yosys.SYNTH_DEFINES)


def _dsp_product(pa: int, pb: int, fam: str) -> int:
    """1 when Yosys maps a pa x pb signed product onto a DSP: synth_ecp5 maps every $mul of at least
    2 x 2 bits to a MULT18X18D; synth_xilinx (DSP48E2) only products of 9 bits and more."""
    if pa < 2 or pb < 2:
        return 0
    return 1 if fam == "ecp5" or pa + pb >= 9 else 0


def _dot_params(L: int, O: int, I: int, a: tuple, b: tuple, o: tuple, acc: int, k: int, nb: int,
                G: int = 1, pack: int = 0) -> dict:
    """Shape of a block dot-product datapath (mx_dot_lane per output lane, mx_align_pipe, accumulator,
    mx_quantize): lanes L = I x O, products of pa x pb bits, block sum S_W, total TOT_W; A = O / G
    aligner / accumulator / quantizer lanes (mx_linear's SHARE: G output lanes share one); pack: two
    products of at most 8 bits per multiplier (mx_dot_lane's DSP_PACK)."""
    pa, pb = _mag(a[0], a[1]), _mag(b[0], b[1])
    fp = 1 if (a[1] or b[1]) else 0
    pack = 1 if pack and pa + pb <= 8 and I >= 2 else 0
    return {"L": L, "O": O, "A": O // G, "I": I, "pa": pa, "pb": pb, "fp": fp, "pack": pack,
            "mx_in": _mx(a[2]) | _mx(b[2]), "mx_out": _mx(o[2]),
            "ow": o[0], "acc": acc, "s_w": pa + pb + _clog2(k), "tot_w": acc + _clog2(nb + 1)}


def _share_group(out_par: int, bpb: int, share: int) -> int:
    """mx_linear's share_group: the largest divisor of OUT_PAR not above K / IN_PAR (SHARE = 0: 1; SHARE = n > 1:
    nor above n)."""
    if not share:
        return 1
    cap = max(1, bpb) if share == 1 else min(max(1, bpb), share)
    return max(d for d in range(1, out_par + 1) if out_par % d == 0 and d <= cap)


def _lin(P: dict, fam: str = "") -> dict[str, float]:
    dp = P.get("DSP_PACK", -1)
    pack = 1 if dp == 1 or (dp < 0 and fam in PACK_DEFINED) else 0
    return _dot_params(P["IN_PAR"] * P["OUT_PAR"], P["OUT_PAR"], P["IN_PAR"],
                       (P["X_WIDTH"], P["X_EBITS"], P["X_FIXED_SCALE"]), (P["W_WIDTH"], P["W_EBITS"], P["W_FIXED_SCALE"]),
                       (P["O_WIDTH"], P["O_EBITS"], P["O_FIXED_SCALE"]), P["ACC_W"], P["K"],
                       -(-P["IN_FEATURES"] // P["K"]),
                       _share_group(P["OUT_PAR"], P["K"] // P["IN_PAR"], P.get("SHARE", 1)), pack)


def _mm(P: dict, fam: str = "") -> dict[str, float]:
    dp = P.get("DSP_PACK", 0)
    pack = 1 if dp == 1 or (dp < 0 and fam in PACK_DEFINED) else 0
    return _dot_params(P["HEADS"] * P["PAR_D"], P["HEADS"], P["PAR_D"],
                       (P["A_WIDTH"], P["A_EBITS"], P["A_FIXED_SCALE"]), (P["B_WIDTH"], P["B_EBITS"], P["B_FIXED_SCALE"]),
                       (P["O_WIDTH"], P["O_EBITS"], P["O_FIXED_SCALE"]), P["ACC_W"], P["K"], -(-P["D"] // P["K"]),
                       1, pack)


def _rom_blocks(P: dict, fam: str) -> float:
    """mx_linear's weight ROM (W_SOURCE 0): one word of IN_PAR x OUT_PAR elements per beat, and
    the scale ROM (a byte per block per output lane) unless the weights are fixed8."""
    if P.get("W_SOURCE", 0) != 0:
        return 0.0
    k, ko = P["K"], P["K_OUT"]
    fin = -(-P["IN_FEATURES"] // k) * k
    fout = -(-P["OUT_FEATURES"] // ko) * ko
    words = fin * fout // (P["IN_PAR"] * P["OUT_PAR"])
    w = _blocks(fam, P["IN_PAR"] * P["OUT_PAR"] * P["W_WIDTH"], words)
    if _mx(P["W_FIXED_SCALE"]):
        w += _blocks(fam, 8 * P["OUT_PAR"], fin * fout // (k * P["OUT_PAR"]))
    return w


def rom_blocks(P: dict, family: str) -> float:
    """Block RAMs of mx_linear's weight and scale ROMs (W_SOURCE 0) as Yosys maps them (_rom_blocks)."""
    return _rom_blocks(P, family_of(family))


def _b_blocks(P: dict, fam: str) -> float:
    """mase_attn_matmul's B operand element buffers (K or V of the prompt, double-buffered), one per
    head (the scales are few: LUT RAM)."""
    words = 2 * P["N_PAD"] * P["D"] // P["PAR_D"]
    return P["HEADS"] * _blocks(fam, P["PAR_D"] * P["B_WIDTH"], words, dual=True)


def _dot(g: Callable[[dict, str], dict]) -> dict[str, dict[str, Feat]]:
    def in_dsp(d: dict, F: str) -> float:  # share of the products on DSP multipliers, DSPs per product
        if d["pack"]:
            return 1.0, 0.5
        x = float(_dsp_product(d["pa"], d["pb"], F))
        return x, x

    def dsp_l(P: dict, F: str) -> float:  # products on one multiplier each
        d = g(P, F)
        return d["L"] * (1 - d["pack"]) * _dsp_product(d["pa"], d["pb"], F)

    def dsp_pack(P: dict, F: str) -> float:  # products packed two per multiplier
        d = g(P, F)
        return d["L"] * d["pack"]

    def lut_mul(P: dict, F: str) -> float:  # products left in LUTs
        d = g(P, F)
        return d["L"] * d["pa"] * d["pb"] * (1 - in_dsp(d, F)[0])
    return {
        "lut": {"1": lambda P, F: 1.0,
                "L*pa*pb (LUT products)": lut_mul,
                "L*s_w (adder trees)": lambda P, F: (d := g(P, F))["L"] * d["s_w"],
                "L*fp*(pa+pb) (minifloat decode)": lambda P, F: (d := g(P, F))["L"] * d["fp"] * (d["pa"] + d["pb"]),
                "A*acc (align, accumulate)": lambda P, F: (d := g(P, F))["A"] * d["acc"],
                "A*mx_out*tot_w (quantizer)": lambda P, F: (d := g(P, F))["A"] * d["mx_out"] * d["tot_w"],
                "mx_out": lambda P, F: g(P, F)["mx_out"]},
        "ff": {"1": lambda P, F: 1.0,
               "L*(pa+pb)": lambda P, F: (d := g(P, F))["L"] * (d["pa"] + d["pb"]),
               "L*s_w": lambda P, F: (d := g(P, F))["L"] * d["s_w"],
               "A*acc": lambda P, F: (d := g(P, F))["A"] * d["acc"],
               "A*mx_out*tot_w": lambda P, F: (d := g(P, F))["A"] * d["mx_out"] * d["tot_w"]},
        "dsp": {"L*dsp_product": dsp_l, "L*packed": dsp_pack,
                "L*(1-pack) (every product)": lambda P, F: (d := g(P, F))["L"] * (1 - d["pack"])},
        "bram": {},
    }


def _elem(width_keys: tuple[str, ...]) -> dict[str, dict[str, Feat]]:
    """Element-wise / row cores: a fixed part and a part per lane and bit of the datapath."""
    def bits(P: dict) -> float:
        return float(sum(P[k] for k in width_keys))
    return {"lut": {"1": lambda P, F: 1.0, "LANES*bits": lambda P, F: P.get("LANES", 1) * bits(P)},
            "ff": {"1": lambda P, F: 1.0, "LANES*bits": lambda P, F: P.get("LANES", 1) * bits(P)},
            "dsp": {"1": lambda P, F: 1.0, "LANES": lambda P, F: P.get("LANES", 1)},
            "bram": {"1": lambda P, F: 1.0}}  # ROM tables (ECP5 puts some in DP16KD)


_Q = {
    "lut": {"1": lambda P, F: 1.0, "PAR*IN_W": lambda P, F: P["PAR"] * P["IN_W"],
            "PAR*WIDTH": lambda P, F: P["PAR"] * P["WIDTH"], "PAR*fp": lambda P, F: P["PAR"] * (P["EBITS"] > 0),
            "mx*IN_W": lambda P, F: _mx(P["FIXED_SCALE"]) * P["IN_W"]},
    "ff": {"1": lambda P, F: 1.0, "PAR*IN_W": lambda P, F: P["PAR"] * P["IN_W"],
           "mx*IN_W": lambda P, F: _mx(P["FIXED_SCALE"]) * P["IN_W"], "PAR*fp": lambda P, F: P["PAR"] * (P["EBITS"] > 0),
           "PAR*WIDTH": lambda P, F: P["PAR"] * P["WIDTH"]},
    "dsp": {},
    # MX: the block buffer (K x PAR x IN_W bits) waits for the block's scale
    "bram": {"mx*buf": lambda P, F: _mx(P["FIXED_SCALE"]) * _blocks(F, P["PAR"] * P["IN_W"], P["K"] // P["PAR"] * 2, True)}}
_DQ = {  # a fixed8 stream (constant scale) dequantizes with wires: nearly nothing
    "lut": {"1": lambda P, F: 1.0, "mx": lambda P, F: _mx(P["FIXED_SCALE"]),
            "mx*PAR*OUT_W": lambda P, F: _mx(P["FIXED_SCALE"]) * P["PAR"] * P["OUT_W"],
            "mx*PAR*WIDTH": lambda P, F: _mx(P["FIXED_SCALE"]) * P["PAR"] * P["WIDTH"],
            "mx*PAR*fp": lambda P, F: _mx(P["FIXED_SCALE"]) * P["PAR"] * (P["EBITS"] > 0),
            "mx*K (block counter, scale FIFO)": lambda P, F: _mx(P["FIXED_SCALE"]) * P["K"],
            "mx*OUT_LSB (shift range)": lambda P, F: _mx(P["FIXED_SCALE"]) * P.get("OUT_LSB", 0),
            "mx*log2(SEG) (segment counter)": lambda P, F: _mx(P["FIXED_SCALE"]) * _clog2(P.get("SEG", 1))},
    "ff": {"1": lambda P, F: 1.0, "mx": lambda P, F: _mx(P["FIXED_SCALE"]),
           "mx*PAR*OUT_W": lambda P, F: _mx(P["FIXED_SCALE"]) * P["PAR"] * P["OUT_W"],
           "fixed*PAR*OUT_W": lambda P, F: (1 - _mx(P["FIXED_SCALE"])) * P["PAR"] * P["OUT_W"]},
    "dsp": {}, "bram": {}}
_LIN = _dot(_lin)
_LIN["bram"] = {"1": lambda P, F: 1.0, "rom": lambda P, F: _rom_blocks(P, F)}
_MM = _dot(_mm)
_MM["bram"] = {"1": lambda P, F: 1.0, "buf": lambda P, F: _b_blocks(P, F), "HEADS": lambda P, F: P["HEADS"],
               "HEADS*mx*B_GROUP_MAJOR (V blocked along tokens, its scales)":
               lambda P, F: P["HEADS"] * _mx(P["B_FIXED_SCALE"]) * P.get("B_GROUP_MAJOR", 0)}

FEATURE_FNS: dict[str, dict[str, dict[str, Feat]]] = {
    "linear": _LIN, "attn_matmul": _MM, "quantize": _Q, "dequantize": _DQ,
    "rmsnorm": _elem(("IN_W", "OUT_W")), "layernorm": _elem(("IN_W", "OUT_W")), "softmax": _elem(("IN_W",)),
    "rope": _elem(("IN_W", "OUT_W")), "swiglu": _elem(("A_W", "B_W")), "act": _elem(("IN_W", "OUT_W")),
    "residual": _elem(("A_W", "B_W")),
}
FEATURES = {k: {r: list(v[r]) for r in KEYS} for k, v in FEATURE_FNS.items()}


def features(kind: str, P: dict, res: str, family: str = "xcup") -> list[float]:
    return [float(fn(P, family)) for fn in FEATURE_FNS[kind][res].values()]


# ------------------------------------------------------------------------------------------------
# coefficients: family -> kind -> resource -> one per feature (FEATURES order)
# ------------------------------------------------------------------------------------------------
# BEGIN COEF (written by benchmarks/bench_resource_model.py --write-coef; do not edit by hand)
# fitted 2026-12-02 on 210 Yosys 0.23 runs (configuration x architecture) of the cores
# at commit(s) 760d3b6, bd12ec8, cc8da9c, fc0d6c6; one coefficient per feature of FEATURES[kind][resource]
COEF: dict[str, dict[str, dict[str, list[float]]]] = {
    'ecp5': {
        'act': {'lut': [-0.0, 0.5], 'ff': [-0.0, 1.025], 'dsp': [0.0, 0.0], 'bram': [0.0]},
        'attn_matmul': {'lut': [-0.0, -0.0, 0.3352, -0.0, 20.8971, 18.9879, -0.0], 'ff': [1572.8243, 5.8035, -1.5052, -0.0, 8.0455], 'dsp': [1.0, -0.0, -0.0], 'bram': [-0.0, -0.0, 1.0, 1.0]},
        'dequantize': {'lut': [-0.0, -97.8329, 8.6291, -0.0, -0.0, -3.1952, -0.4049, 56.6084], 'ff': [34.9142, 20.5385, 2.9794, -0.0]},
        'layernorm': {'lut': [-0.0, 60.0357], 'ff': [-0.0, 60.8036], 'dsp': [12.0, -0.0], 'bram': [1.0]},
        'linear': {'lut': [93.2269, -0.0, 2.3103, 2.5337, -0.0, 6.743, 531.7741], 'ff': [539.0931, 2.676, -0.0, -4.5293, 7.4643], 'dsp': [1.0, -0.0, -0.0], 'bram': [-0.0, 1.0526]},
        'quantize': {'lut': [148.6849, -0.7435, 0.2272, 857.3508, 14.1093], 'ff': [38.2907, 1.3082, 9.9955, 4.5847, 2.7508], 'bram': [0.6667]},
        'residual': {'lut': [82.0, -0.0], 'ff': [67.0, -0.0], 'dsp': [0.0, 0.0], 'bram': [0.0]},
        'rmsnorm': {'lut': [-0.0, 50.2321], 'ff': [2351.0, -0.0], 'dsp': [9.0, -0.0], 'bram': [1.0]},
        'rope': {'lut': [450.0, -0.0], 'ff': [628.0, -0.0], 'dsp': [6.0, -0.0], 'bram': [4.0]},
        'softmax': {'lut': [1423.0, -0.0], 'ff': [-0.0, 62.65], 'dsp': [6.0, -0.0], 'bram': [2.0]},
        'swiglu': {'lut': [301.6689, -0.0], 'ff': [-0.0, 24.3249], 'dsp': [9.0, -0.0], 'bram': [2.0]},
    },
    'xcup': {
        'act': {'lut': [-0.0, 0.5], 'ff': [-0.0, 1.025], 'dsp': [0.0, 0.0], 'bram': [0.0]},
        'attn_matmul': {'lut': [-0.0, 0.0, 0.8711, 2.744, 8.5488, 11.7442, -0.0], 'ff': [1314.1928, 8.2816, -4.1781, -0.0, 7.6572], 'dsp': [0.5, -0.0, 0.5], 'bram': [0.0, 1.0, -0.0, -0.0]},
        'dequantize': {'lut': [0.6098, 38.6372, 8.1274, -0.0, -0.0, 1.164, 1.1485, -3.3554], 'ff': [2.9142, 52.5385, 2.9794, -0.0]},
        'layernorm': {'lut': [2101.0, -0.0], 'ff': [2337.0, -0.0], 'dsp': [12.0, -0.0], 'bram': [0.5]},
        'linear': {'lut': [-0.0, -0.0, 2.5207, 1.7936, -4.6232, 3.3988, 268.5028], 'ff': [476.933, 4.8474, -1.2285, -7.0732, 7.7165], 'dsp': [-0.0, 0.5, 1.0], 'bram': [0.25, -0.0]},
        'quantize': {'lut': [-5.3039, -0.0006, 5.9826, 284.9559, 9.8045], 'ff': [-0.2374, 1.7159, 8.8764, -4.3604, 2.7297], 'bram': [-0.0]},
        'residual': {'lut': [104.0, -0.0], 'ff': [67.0, -0.0], 'dsp': [0.0, 0.0], 'bram': [0.0]},
        'rmsnorm': {'lut': [1790.0, -0.0], 'ff': [1653.0, -0.0], 'dsp': [8.0, -0.0], 'bram': [0.5]},
        'rope': {'lut': [216.0, -0.0], 'ff': [430.0, -0.0], 'dsp': [6.0, -0.0], 'bram': [2.0]},
        'softmax': {'lut': [-0.0, 49.8], 'ff': [-0.0, 55.85], 'dsp': [6.0, -0.0], 'bram': [0.0]},
        'swiglu': {'lut': [-0.0, 6.6656], 'ff': [-0.0, 15.1625], 'dsp': [8.0, -0.0], 'bram': [1.0]},
    },
}
# END COEF


def estimate(core: str, module: str, params: dict, family: str, coef: dict | None = None) -> dict[str, float]:
    """LUT, FF, DSP and BRAM of one core instance (see the module doc); unknown cores: zeros."""
    fam = family_of(family)
    kind = kind_of(core, module)
    table = (coef or COEF).get(fam, {}).get(kind, {})
    out = {}
    for res in KEYS:
        c = table.get(res)
        if kind not in FEATURE_FNS or not c:
            out[res] = 0.0
            continue
        out[res] = max(0.0, sum(a * b for a, b in zip(c, features(kind, params, res, fam))))
    out["dsp"] = float(round(out["dsp"]))
    if kind in ("rmsnorm", "layernorm") and "N" in params:  # at least mx_norm's row buffer (3 rows), which
        # the tiny models' 64-feature rows fitted as one block: smollm2's 576 take 4 DP16KD (Yosys)
        lanes = params.get("LANES", 1)
        out["bram"] = max(out["bram"], ram_blocks(family, lanes * params["IN_W"], 3 * params["N"] // lanes))
    return out


def wstream_unpack(P: dict, family: str) -> dict[str, float]:
    """LUT and FF of mx_wstream_unpack (cores/mx_linear) with parameters P (mase.eda.mx_linear.wstream_params),
    from its shape as the RTL derives it: a ring of NS beats of P bits (CAP bits), a window of WS of them
    picked at the one-hot read slot (WS x P x NS AND-OR terms), the element field and the scales picked
    in it at the one-hot offset (E x (Q + S/U) + S x Q terms). Fitted on synth_ecp5 (Yosys 0.23; mxint4
    OUT_PAR 1 at IN_PAR 1, 2, 4, 8, 16, OUT_PAR 2 at IN_PAR 8, mxint8 IN_PAR 8): LUT4 (+2 per CCU2C) =
    1.1-1.7 x the terms + 40, 1.4 taken (within -20% / +30%); FF = CAP + S + NS + Q + 12 within 5%.
    UltraScale+'s LUT6 taken as half the LUT4s (not fitted). Wires only (no gearbox): nothing."""
    e = P["OUT_PAR"] * P["IN_PAR"] * P["W_WIDTH"]
    s = 8 * P["OUT_PAR"] if P["HAS_SCALE"] else 0
    bpb = P["K"] // P["IN_PAR"]
    b = 8 * P["IN_BYTES"]
    g = s + bpb * e
    if (bpb == 1 and b == g) or (s == 0 and b == e):
        return {"lut": 0.0, "ff": 0.0}
    pad = (b - ((P["GROUPS"] % b) * (g % b)) % b) % b
    u = 8 if e % 8 == 0 else 4 if e % 4 == 0 else 2 if e % 2 == 0 else 1
    ns = 2 + -(-(s + e + pad) // b)
    q, ws = b // u, -(-(b - u + s + e) // b)
    terms = ws * b * ns + e * (q + s // u) + s * q
    lut = 1.4 * terms + 30
    return {"lut": lut if family_of(family) == "ecp5" else lut / 2, "ff": float(ns * b + s + ns + q + 12)}


def describe(core: str, module: str, P: dict) -> str:
    """The parameters that matter for the resources, short."""
    k = kind_of(core, module)

    def fmt(w: Any, e: Any, s: Any) -> str:
        return ("fx" if int(s) >= 0 else ("fp" if int(e) else "int")) + str(w)
    if k == "linear":
        return (f"{P['IN_FEATURES']}x{P['OUT_FEATURES']} {P['IN_PAR']}x{P['OUT_PAR']} "
                f"{fmt(P['X_WIDTH'], P['X_EBITS'], P['X_FIXED_SCALE'])}*{fmt(P['W_WIDTH'], P['W_EBITS'], P['W_FIXED_SCALE'])}"
                f"->{fmt(P['O_WIDTH'], P['O_EBITS'], P['O_FIXED_SCALE'])}")
    if k == "attn_matmul":
        return (f"H{P['HEADS']}/{P['KV_HEADS']} N{P['N_PAD']} D{P['D']} PAR_D {P['PAR_D']} "
                f"{fmt(P['A_WIDTH'], P['A_EBITS'], P['A_FIXED_SCALE'])}*{fmt(P['B_WIDTH'], P['B_EBITS'], P['B_FIXED_SCALE'])}")
    if k == "quantize":
        return f"PAR {P['PAR']} IN_W {P['IN_W']} -> {fmt(P['WIDTH'], P['EBITS'], P['FIXED_SCALE'])} K {P['K']}"
    if k == "dequantize":
        return f"PAR {P['PAR']} {fmt(P['WIDTH'], P['EBITS'], P['FIXED_SCALE'])} -> OUT_W {P['OUT_W']} K {P['K']}"
    ws = {n: v for n, v in P.items() if n.endswith("_W") or n in ("LANES", "N", "HEAD_DIM")}
    return " ".join(f"{n} {v}" for n, v in ws.items())[:44]
