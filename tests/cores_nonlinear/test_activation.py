"""mx_activation (ReLU, GELU, SiLU) against mase.golden.nonlinear.act_int, bit for bit."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden.nonlinear import ActConfig, act_int

from .util import check_runs, pack, rand_signed, unpack

FUNCS = {"relu": 0, "gelu": 1, "silu": 2}
CONFIGS = [  # lanes, in_w, in_f, out_w, out_f
    (1, 20, 12, 20, 12),
    (4, 12, 6, 10, 7),
]


CASES = [  # the fast suite builds three models; the other combinations run with -m slow
    pytest.param(f, *c, marks=[] if (f, c) in {("silu", CONFIGS[0]), ("gelu", CONFIGS[1]), ("relu", CONFIGS[1])}
                 else [pytest.mark.slow])
    for f in FUNCS for c in CONFIGS
]


@pytest.mark.parametrize("func,lanes,in_w,in_f,out_w,out_f", CASES)
def test_activation(func, lanes, in_w, in_f, out_w, out_f):
    gen = torch.Generator().manual_seed(lanes * 31 + FUNCS[func])
    beats = 300
    x = rand_signed(gen, (beats, lanes), in_w, min(in_w - 1, in_f + 5))
    x[:40] = torch.arange(-(20 << in_f), 20 << in_f, (40 << in_f) // (40 * lanes))[: 40 * lanes].view(40, lanes)
    cfg = ActConfig(in_w, in_f, out_w, out_f)
    y = act_int(x, func, cfg)
    sim = build_sim("mase:mx:activation", {"LANES": lanes, "FUNC": FUNCS[func], "IN_W": in_w, "IN_F": in_f,
                                           "OUT_W": out_w, "OUT_F": out_f})
    check_runs(sim, {"in": pack(x, in_w)}, beats, pack(y, out_w), {"in": lanes * in_w})
