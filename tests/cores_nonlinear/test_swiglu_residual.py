"""mx_swiglu and mx_residual_add against the golden model, bit for bit (two joined input streams)."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden.nonlinear import ResidualConfig, SwigluConfig, residual_int, swiglu_int

from .util import check_runs, pack, rand_signed

# lanes, a_w, a_f, b_w, b_f, out_w, out_f
SWIGLU = [(1, 20, 12, 20, 12, 24, 10), (3, 12, 6, 10, 5, 12, 6)]
RESIDUAL = [(1, 32, 16, 32, 16, 32, 16), (4, 12, 4, 10, 9, 12, 6)]


def _run(core, golden, cfg_cls, lanes, a_w, a_f, b_w, b_f, out_w, out_f, seed, extra=None):
    gen = torch.Generator().manual_seed(seed)
    beats = 300
    a = rand_signed(gen, (beats, lanes), a_w, min(a_w - 1, a_f + 5))
    b = rand_signed(gen, (beats, lanes), b_w, min(b_w - 1, b_f + 4))
    y = golden(a, b, cfg_cls(a_w, a_f, b_w, b_f, out_w, out_f))
    sim = build_sim(core, {"LANES": lanes, "A_W": a_w, "A_F": a_f, "B_W": b_w, "B_F": b_f,
                           "OUT_W": out_w, "OUT_F": out_f, **(extra or {})})
    check_runs(sim, {"a": pack(a, a_w), "b": pack(b, b_w)}, beats, pack(y, out_w),
               {"a": lanes * a_w, "b": lanes * b_w})


@pytest.mark.parametrize("cfg", SWIGLU)
def test_swiglu(cfg):
    _run("mase:mx:swiglu", swiglu_int, SwigluConfig, *cfg, seed=sum(cfg))


@pytest.mark.slow
def test_swiglu_lut_multipliers():
    # MASE_MUL_CHUNK as the iCE40 flows define it (mase.eda.nextpnr.PNR_DEFINES): 6-bit chunk products,
    # the gate's interpolation product in two stages; tiny-llama's formats
    cfg = (1, 20, 18, 20, 18, 24, 24)
    _run("mase:mx:swiglu", swiglu_int, SwigluConfig, *cfg, seed=7, extra={"MASE_MUL_CHUNK": 6})


@pytest.mark.parametrize("cfg", RESIDUAL)
def test_residual_add(cfg):
    _run("mase:mx:residual_add", residual_int, ResidualConfig, *cfg, seed=sum(cfg) + 1)
