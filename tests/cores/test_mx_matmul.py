"""mx_matmul (C = A B^T, both activations) against the golden model, bit for bit, with stalls."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden import AccSpec, elem_spec, linear_int, requantize

from .mxdata import FORMATS, block_beats, random_quantized

CONFIGS = [  # ROWS, N, D, K, K_OUT, PAR_D, PAR_N, a, b, out, acc
    (4, 16, 32, 16, 8, 4, 4, "mxint8", "mxint8", "mxint8", (-20, 32)),
    (3, 8, 32, 32, 8, 8, 8, "mxfp8_e4m3", "mxfp8_e4m3", "mxfp4", (-24, 48)),
]


@pytest.mark.parametrize("rows,n,d,k,k_out,pd,pn,af,bf,of,acc", CONFIGS)
def test_mx_matmul(rows, n, d, k, k_out, pd, pn, af, bf, of, acc):
    gen = torch.Generator().manual_seed(rows + n + d)
    acc = AccSpec(*acc)
    batches = 2
    a_beats, b_beats, expected = [], [], []
    (aw, ae), (bw, be), (ow, oe) = FORMATS[af], FORMATS[bf], FORMATS[of]
    for _ in range(batches):
        ac, asc = random_quantized(af, rows, d, k, gen)
        bc, bsc = random_quantized(bf, n, d, k, gen)
        total = linear_int(elem_spec(af).to_int(ac), asc, elem_spec(af), elem_spec(bf).to_int(bc), bsc,
                           elem_spec(bf), None, acc)
        oc, osc = requantize(total, acc.lsb, of, k_out)
        a_beats += block_beats(ac, asc, aw, pd)
        b_beats += block_beats(bc, bsc, bw, pd)
        expected += block_beats(oc & ((1 << ow) - 1), osc, ow, pn)
    sim = build_sim("mase:mx:mx_matmul", {"ROWS": rows, "N": n, "D": d, "K": k, "K_OUT": k_out, "PAR_D": pd,
                                          "PAR_N": pn, "A_WIDTH": aw, "A_EBITS": ae, "B_WIDTH": bw, "B_EBITS": be,
                                          "O_WIDTH": ow, "O_EBITS": oe, "ACC_LSB": acc.lsb, "ACC_W": acc.width})
    for stall, bp, seed in [(0, 0, 1), (30, 30, 2)]:
        res = sim.run({"a": a_beats, "b": b_beats}, {"out": len(expected)}, stall=stall, bp=bp, seed=seed)
        assert res.outputs["out"] == expected, f"stall={stall} bp={bp}"
