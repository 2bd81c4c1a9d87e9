"""mx_softmax (causal) against mase.golden.nonlinear.softmax_int, bit for bit."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden import nonlinear_tables as T
from mase.golden.nonlinear import SoftmaxConfig, causal_mask, softmax_int

from .util import check_runs, pack, rand_signed, unpack

CONFIGS = {  # lanes, n, pos_w, in_w, in_f, out_f, r_f
    "attention-formats": (1, 48, 16, 20, 10, 16, 20),
    "narrow-4-lanes": (4, 32, 6, 12, 6, 12, 14),
}


def test_rtl_constants_match_tables():
    assert (T.LOG2E_Q, T.LOG2E_F, T.EXP_LUT_BITS, T.EXP_F) == (23637, 14, 8, 16)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_softmax(name):
    lanes, n, pos_w, in_w, in_f, out_f, r_f = CONFIGS[name]
    gen = torch.Generator().manual_seed(n + lanes)
    rows = 16
    x = rand_signed(gen, (rows, n), in_w, min(in_w - 1, in_f + 3))
    x[1] = 0                                    # all equal
    x[2] = (1 << (in_w - 1)) - 1                # saturated
    x[3, ::2] = -((1 << (in_w - 1)) - 1)        # extreme spread: exp underflows to 0
    pos = torch.randint(0, n, (rows,), generator=gen)
    pos[:4] = torch.tensor([n - 1, 0, 5, n - 1])
    pos[4] = (1 << pos_w) - 1                   # beyond the row: nothing masked
    cfg = SoftmaxConfig(in_w, in_f, out_f, r_f)
    y = softmax_int(x, causal_mask(pos, n), cfg)
    nb = n // lanes
    xb = pack(x.reshape(rows * nb, lanes), in_w)
    beats = [w | (int(pos[i // nb]) << (lanes * in_w)) for i, w in enumerate(xb)]
    sim = build_sim("mase:mx:softmax", {"LANES": lanes, "N": n, "POS_W": pos_w, "IN_W": in_w, "IN_F": in_f,
                                        "OUT_F": out_f, "R_F": r_f})
    check_runs(sim, {"in": beats}, len(beats), pack(y.reshape(rows * nb, lanes), out_f + 1),
               {"in": pos_w + lanes * in_w}, full_rate=n // lanes >= r_f + 6)
