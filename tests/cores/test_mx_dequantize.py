"""mx_dequantize against the golden MX -> fixed-point rule, bit for bit, with stalls and back-pressure."""

import pytest
import torch

from mase.eda import build_sim, pack_fields
from mase.golden import align, elem_spec

from .mxdata import FORMATS, block_beats, random_quantized

CONFIGS = [  # format, K, PAR, OUT_W, OUT_LSB, fixed scale, segment (None: no padding)
    ("mxint4", 16, 4, 16, -10, None, None),
    ("mxfp8_e4m3", 8, 2, 24, -12, None, None),
    ("mxfp4", 32, 8, 12, -4, None, None),
    ("fixed8", 8, 8, 16, -8, 125, None),
    ("mxint8", 32, 1, 20, -10, None, 17),  # a score row of a 17-token prompt padded to a block
    ("mxint4", 16, 2, 16, -8, None, 38),  # segments of 38 in 3 blocks of 16
]


@pytest.mark.parametrize("fmt,k,par,out_w,out_lsb,fixed,seg", CONFIGS)
def test_mx_dequantize(fmt, k, par, out_w, out_lsb, fixed, seg):
    gen = torch.Generator().manual_seed(k + par + out_w)
    nblk = 48
    width, ebits = FORMATS[fmt]
    codes, scales = random_quantized("mxint8" if fmt == "fixed8" else fmt, 1, nblk * k, k, gen)
    codes, scales = codes[0], scales[0]
    # scales near the output window, so that both saturation and truncation happen
    scales = torch.where(torch.rand(scales.shape, generator=gen) < 0.7,
                         torch.randint(110, 140, scales.shape, generator=gen), scales)
    spec = elem_spec("fixed8" if fmt == "fixed8" else fmt)
    eff = torch.full_like(scales, fixed) if fixed is not None else scales
    vals = align(spec.to_int(codes), (eff + spec.lsb - 127 - out_lsb).unsqueeze(-1), out_w)
    beats = block_beats(codes, scales, width, par)
    seg_pad = -(-(seg or k) // k) * k
    flat = vals.reshape(-1, seg_pad)[:, :seg or seg_pad].reshape(-1)  # padding dropped per segment
    expected = [pack_fields(flat[j:j + par].tolist(), out_w) for j in range(0, flat.numel(), par)]
    prm = {"PAR": par, "K": k, "WIDTH": width, "EBITS": ebits, "OUT_W": out_w, "OUT_LSB": out_lsb,
           "FIXED_SCALE": -1 if fixed is None else fixed}
    if seg:
        prm.update(SEG=seg, SEG_PAD=seg_pad)
    sim = build_sim("mase:mx:mx_dequantize", prm)
    for stall, bp, seed in [(0, 0, 1), (40, 30, 2)]:
        res = sim.run({"in": beats}, {"out": len(expected)}, stall=stall, bp=bp, seed=seed)
        assert res.outputs["out"] == expected, f"stall={stall} bp={bp}"
        if stall == bp == 0 and not seg:
            assert res.stats["out_last"] - res.stats["out_first"] == len(beats) - 1
