"""mx_activation (ReLU, GELU, SiLU) against mase.golden.nonlinear.act_int, bit for bit."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden import nonlinear_tables as T
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


# the iCE40 flows define MASE_MUL_CHUNK (mase.eda.nextpnr.PNR_DEFINES: LUT multipliers): chunked products
# and the gate's interpolation product in two stages, bit-exact as well
LUT_CASES = [pytest.param("gelu", *CONFIGS[0], 6, marks=[pytest.mark.slow])]


def test_gate_table_steps_fit_the_lut_interpolation():
    # mx_gate_interp with MASE_MUL_CHUNK takes d = T[i+1] - T[i] as 11 bits unsigned: both tables rise
    for func in T.GATE_FUNCS:
        t = T.gate_table(func)
        steps = [b - a for a, b in zip(t, t[1:])]
        assert 0 <= min(steps) and max(steps) < 2**11, func


@pytest.mark.parametrize("func,lanes,in_w,in_f,out_w,out_f,chunk", LUT_CASES)
def test_activation_lut_multipliers(func, lanes, in_w, in_f, out_w, out_f, chunk):
    test_activation(func, lanes, in_w, in_f, out_w, out_f, chunk)


@pytest.mark.parametrize("func,lanes,in_w,in_f,out_w,out_f", CASES)
def test_activation(func, lanes, in_w, in_f, out_w, out_f, chunk=None):
    gen = torch.Generator().manual_seed(lanes * 31 + FUNCS[func])
    beats = 300
    x = rand_signed(gen, (beats, lanes), in_w, min(in_w - 1, in_f + 5))
    x[:40] = torch.arange(-(20 << in_f), 20 << in_f, (40 << in_f) // (40 * lanes))[: 40 * lanes].view(40, lanes)
    cfg = ActConfig(in_w, in_f, out_w, out_f)
    y = act_int(x, func, cfg)
    sim = build_sim("mase:mx:activation", {"LANES": lanes, "FUNC": FUNCS[func], "IN_W": in_w, "IN_F": in_f,
                                           "OUT_W": out_w, "OUT_F": out_f,
                                           **({"MASE_MUL_CHUNK": chunk} if chunk else {})})
    check_runs(sim, {"in": pack(x, in_w)}, beats, pack(y, out_w), {"in": lanes * in_w})
