"""mx_dot_product against the golden block dot product, bit for bit, with stalls and back-pressure."""

import pytest
import torch

from mase.eda import build_sim, pack_fields
from mase.golden import block_dot

from .mxdata import FORMATS, random_quantized, to_int

CONFIGS = [  # a format, b format, K, PAR
    ("mxint4", "mxint4", 16, 4),
    ("mxfp4", "mxint8", 32, 8),
    ("mxfp8_e4m3", "mxfp6_e3m2", 8, 1),
    ("mxfp8_e5m2", "mxfp6_e2m3", 16, 16),
]


@pytest.mark.parametrize("a_fmt,b_fmt,k,par", CONFIGS)
def test_mx_dot_product(a_fmt, b_fmt, k, par):
    gen = torch.Generator().manual_seed(k * 7 + par)
    nblk = 48
    (aw, ae), (bw, be) = FORMATS[a_fmt], FORMATS[b_fmt]
    ac, asc = random_quantized(a_fmt, 1, nblk * k, k, gen)
    bc, bsc = random_quantized(b_fmt, 1, nblk * k, k, gen)
    ac, asc, bc, bsc = ac[0], asc[0], bc[0], bsc[0]
    ac[5], bc[5] = 1 << (aw - 1), 1 << (bw - 1)  # most negative integer codes (or -0 minifloats)
    ac[6], bc[6] = (1 << (aw - 1)) - 1, (1 << (bw - 1)) - 1  # largest positive codes
    beats = []
    for b in range(nblk):
        for j in range(0, k, par):
            beats.append(pack_fields(ac[b, j:j + par].tolist(), aw) | (pack_fields(bc[b, j:j + par].tolist(), bw) << (par * aw))
                         | (int(asc[b]) << (par * (aw + bw))) | (int(bsc[b]) << (par * (aw + bw) + 8)))
    s = block_dot(to_int(a_fmt, ac), to_int(b_fmt, bc))
    e = asc + bsc
    a_iw = aw if ae == 0 else aw - ae + (1 << ae) - 1
    b_iw = bw if be == 0 else bw - be + (1 << be) - 1
    sum_w = a_iw + b_iw + (k - 1).bit_length()
    expected = [(int(ee) << sum_w) | (int(ss) & ((1 << sum_w) - 1)) for ss, ee in zip(s, e)]
    sim = build_sim("mase:mx:mx_dot_product", {"PAR": par, "K": k, "A_WIDTH": aw, "A_EBITS": ae,
                                               "B_WIDTH": bw, "B_EBITS": be})
    for stall, bp, seed in [(0, 0, 1), (30, 40, 2)]:
        res = sim.run({"in": beats}, {"out": nblk}, stall=stall, bp=bp, seed=seed)
        assert res.outputs["out"] == expected, f"stall={stall} bp={bp}"
        if stall == bp == 0:
            assert res.stats["in_last"] - res.stats["in_first"] == len(beats) - 1  # one beat per cycle
