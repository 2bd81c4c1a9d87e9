"""mx_quantize against the golden re-quantization, bit for bit, with stalls and back-pressure, at both
pipeline settings (SHORT 0 and 1), and its latency."""

import pytest
import torch

from mase.eda import build_sim, lint, pack_fields
from mase.golden import quantize_fixed

from .mxdata import FORMATS

CONFIGS = [  # output format, K, PAR, IN_W, IN_LSB, fixed scale
    ("mxint4", 16, 4, 24, -12, None),
    ("mxfp4", 32, 8, 32, -20, None),
    ("mxfp8_e4m3", 8, 2, 20, -8, None),
    ("mxfp6_e3m2", 8, 8, 16, 3, None),
    ("mxfp6_e2m3", 16, 4, 24, -12, None),
    ("mxfp8_e5m2", 8, 4, 32, -20, None),
    ("fixed8", 16, 4, 24, -12, 124),
]


def random_fixed(nblk: int, k: int, in_w: int, gen: torch.Generator) -> torch.Tensor:
    """Signed in_w-bit values: blocks of varied magnitude, zero blocks, extremes and rounding ties."""
    lim = 1 << (in_w - 1)
    bits = torch.randint(0, in_w, (nblk, 1), generator=gen)
    a = (torch.randint(-(1 << 20), 1 << 20, (nblk, k), generator=gen) * torch.exp2(bits - 20.0)).round().to(torch.int64)
    a = a.clamp(-lim, lim - 1)
    a[0] = 0
    a[1] = lim - 1
    a[2] = -lim
    a[3] = torch.arange(k) * 2 + 1        # odd integers: ties after the shift
    a[4, 0] = lim - 1                     # one big value, the rest small
    a[4, 1:] = torch.arange(1, k) - k // 2
    a[5] = (torch.arange(k) - k // 2) * 3 << 2  # ties at other positions
    a[6] = torch.arange(k) - k // 2             # the block maximum in its last beat
    a[6, -1] = -(lim // 3)
    a[7] = 1                                    # the maximum in the first beat only
    a[7, 0] = lim // 5
    return a


# SHORT 1: the short pipeline (K/PAR + 5 cycles instead of K/PAR + 12; fixed 3 instead of 5), the same codes
LATENCY = {0: 11, 1: 4}
FIXED_LATENCY = {0: 5, 1: 3}


@pytest.mark.parametrize("short", [0, 1])
@pytest.mark.parametrize("fmt,k,par,in_w,in_lsb,fixed", CONFIGS + [("mxint4", 32, 32, 24, -12, None),
                                                                   ("mxint4", 32, 1, 16, -8, None)])
def test_mx_quantize(fmt, k, par, in_w, in_lsb, fixed, short):
    gen = torch.Generator().manual_seed(k + par + in_w)
    nblk = 40
    width, ebits = FORMATS[fmt]
    a = random_fixed(nblk, k, in_w, gen)
    codes, scales = quantize_fixed(a.reshape(1, -1), in_lsb, fmt, k, fixed)
    codes, scales = codes[0], scales[0]
    beats = [pack_fields(a[b, j:j + par].tolist(), in_w) for b in range(nblk) for j in range(0, k, par)]
    expected = [pack_fields(codes[b, j:j + par].tolist(), width) | (int(scales[b]) << (par * width))
                for b in range(nblk) for j in range(0, k, par)]
    sim = build_sim("mase:mx:mx_quantize", {"PAR": par, "K": k, "IN_W": in_w, "IN_LSB": in_lsb, "WIDTH": width,
                                            "EBITS": ebits, "FIXED_SCALE": -1 if fixed is None else fixed,
                                            "SHORT": short})
    for stall, bp, seed in [(0, 0, 1), (35, 35, 2)]:
        res = sim.run({"in": beats}, {"out": len(beats)}, stall=stall, bp=bp, seed=seed)
        assert res.outputs["out"] == expected, f"stall={stall} bp={bp}"
        if stall == bp == 0:
            s = res.stats
            assert s["in_last"] - s["in_first"] == len(beats) - 1
            assert s["out_last"] - s["out_first"] == len(beats) - 1
            lat = FIXED_LATENCY[short] if fixed is not None else k // par + LATENCY[short]
            assert s["out_first"] - s["in_first"] == lat, s


@pytest.mark.parametrize("short", [0, 1])
def test_mx_quantize_lints_clean(short):
    """verilator --lint-only -Wall at both settings, MX and fixed8, one value and many a beat."""
    for prm in ({"PAR": 4, "K": 32, "IN_W": 24, "IN_LSB": -12, "WIDTH": 4, "EBITS": 0},
                {"PAR": 1, "K": 32, "IN_W": 16, "IN_LSB": -8, "WIDTH": 4, "EBITS": 0},
                {"PAR": 8, "K": 8, "IN_W": 20, "IN_LSB": -8, "WIDTH": 8, "EBITS": 4},
                {"PAR": 4, "K": 16, "IN_W": 24, "IN_LSB": -12, "WIDTH": 8, "EBITS": 0, "FIXED_SCALE": 124}):
        lint("mase:mx:mx_quantize", {**prm, "SHORT": short})
