"""The vectorised w_data stream text equals formatting mase.eda.mx_linear.weight_stream_beats beat by beat."""

from types import SimpleNamespace

import pytest
import torch

from mase.compiler.library import _w_stream_text, quantized_weight
from mase.eda.mx_linear import weight_stream_beats


@pytest.mark.parametrize("fmt,width", [("mxint4", 4), ("mxint8", 8), ("mxfp4", 4), ("mxfp6_e3m2", 6)])
@pytest.mark.parametrize("op,ip", [(1, 1), (2, 4), (4, 32)])
def test_w_stream_text_matches_beats(fmt, width, op, ip):
    torch.manual_seed(0)
    out_f, in_f, k = 8, 64, 32
    g = SimpleNamespace()
    node = SimpleNamespace(name="n", attrs={"weight_fmt": fmt, "block": k, "weight": torch.randn(out_f, in_f)})
    p = {"OUT_PAR": op, "IN_PAR": ip, "W_WIDTH": width, "K": k, "IN_FEATURES": in_f}
    text, n = _w_stream_text(g, node, SimpleNamespace(params=p), 3)
    wq = quantized_weight(g, node)
    codes = wq.elements.to(torch.int64) & ((1 << width) - 1)
    beats = weight_stream_beats(p, (codes, wq.scales.to(torch.int64)), 3)
    digits = -(-(op * (8 + ip * width)) // 4)
    assert n == len(beats)
    assert text == "".join(format(b, f"0{digits}x") + "\n" for b in beats)
