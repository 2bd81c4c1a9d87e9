"""The non-linear golden model: exactness of its integer units and accuracy against float."""

import math

import pytest
import torch
import torch.nn.functional as F

from mase.golden import nonlinear as G
from mase.golden import nonlinear_tables as T


def test_rsqrt_is_exact_floor():
    cfg = G.NormConfig()
    v = torch.cat([torch.arange(1, 5000), torch.randint(1, 1 << 62, (5000,))]).to(torch.int64)
    r, k = G.rsqrt_int(v, cfg)
    for vi, ri, ki in zip(v.tolist()[::97], r.tolist()[::97], k.tolist()[::97]):
        m = vi >> (2 * ki) if ki > 0 else vi << (-2 * ki)
        assert (1 << (cfg.norm_m - 2)) <= m < (1 << cfg.norm_m)
        assert math.isqrt((1 << (2 * cfg.rsqrt_k)) // m) in (ri, ri + 1) or ri * ri * m <= 1 << (2 * cfg.rsqrt_k)
        assert ri * ri * m <= 1 << (2 * cfg.rsqrt_k) < (ri + 1) * (ri + 1) * m


def test_round_shift_half_up():
    x = torch.tensor([-3, -2, -1, 0, 1, 2, 3])
    assert G.round_shift(x, 1).tolist() == [-1, -1, 0, 0, 1, 1, 2]
    assert G.round_shift(x, torch.tensor(-2)).tolist() == [-12, -8, -4, 0, 4, 8, 12]


def test_tables_deterministic():
    assert T.exp2_table()[0] == 1 << T.EXP_F and len(T.exp2_table()) == 256
    assert T.sin_quarter_table()[-1] == 1 << T.TRIG_F and T.sin_quarter_table()[0] == 0
    assert len(T.gate_table("silu")) == T.GATE_ENTRIES


def test_accuracy_vs_float():
    torch.manual_seed(0)
    x = torch.randn(32, 128, dtype=torch.float64) * 4
    pos = torch.randint(0, 128, (32,))
    m = G.causal_mask(pos, 128)
    ref = torch.softmax(x.masked_fill(~m, -math.inf), -1)
    y = G.hw_softmax(x, m)
    assert (y - ref).abs().max() < 2e-3 and (y[~m] == 0).all()
    w = torch.rand(576, dtype=torch.float64) * 2
    x = torch.randn(8, 576, dtype=torch.float64) * 5
    ref = x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w
    assert (G.hw_rmsnorm(x, w, 1e-5) - ref).abs().max() < 1e-3
    b = torch.randn(576, dtype=torch.float64)
    assert (G.hw_layernorm(x, w, b, 1e-5) - F.layer_norm(x, (576,), w, b, 1e-5)).abs().max() < 1e-3
    xs = torch.linspace(-30, 30, 5001, dtype=torch.float64)
    for name, fn in (("relu", F.relu), ("gelu", F.gelu), ("silu", F.silu)):
        assert (G.hw_act(xs, name) - fn(xs)).abs().max() < 1e-3, name


@pytest.mark.parametrize("family", ["tiny-llama", "tiny-opt"])
def test_patch_tiny_models(family):
    from mase.golden.nonlinear_patch import OPS, apply_hw_nonlinear
    from mase.models import load_model

    model, _ = load_model(family)
    ids = torch.randint(3, 200, (1, 48))
    with torch.no_grad():
        ref = model(ids).logits
    counts = apply_hw_nonlinear(model, OPS)
    assert counts["softmax"] > 0
    assert (counts["rmsnorm"] > 0 and counts["rope"] > 0) if family == "tiny-llama" else counts["layernorm"] > 0
    with torch.no_grad():
        out = model(ids).logits
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max() < 0.05 * ref.abs().max()
