"""Attention for any head_dim: 1/sqrt(head_dim) = 2**-s * c, c in (0.5, 1]. The scores are shifted by
s on the way to the softmax and c is folded into the softmax core's exp multiplier (LOG2E_Q), so head
dims 8, 32, 128 (LLaMA-2, Qwen, Mistral), 80 and 96 map like 16 and 64 did; the golden model, the RTL
and the software hw-softmax compute one thing; whole models simulate bit-exact."""

from __future__ import annotations

import json

import pytest
import torch

from mase.config import compose
from mase.golden import nonlinear as G
from mase.pipeline import run

T = 16
CASES = {  # name: overrides (one decoder layer, small widths: the simulations stay short)
    "llama-d8": ["+model=tiny-llama", "model.tiny.num_heads=4", "model.tiny.num_kv_heads=2",
                 "model.tiny.head_dim=8", "model.tiny.hidden_size=32", "model.tiny.intermediate_size=64"],
    "llama-d32": ["+model=tiny-llama", "model.tiny.num_heads=2", "model.tiny.num_kv_heads=1",
                  "model.tiny.head_dim=32"],
    "llama-d128": ["+model=tiny-llama", "model.tiny.num_heads=1", "model.tiny.num_kv_heads=1",
                   "model.tiny.head_dim=128", "model.tiny.hidden_size=32", "model.tiny.intermediate_size=64"],
    "opt-d32": ["+model=tiny-opt", "model.tiny.num_heads=2", "model.tiny.hidden_size=64"],
}
HEAD_DIM = {"llama-d8": 8, "llama-d32": 32, "llama-d128": 128, "opt-d32": 32}


def _cfg(case: str, quant: str = "mxint4", extra=()):
    return compose([*CASES[case], f"quant={quant}", "target=sim", "model.tiny.num_layers=1", *extra])


def _model(cfg):
    from mase.models import load_model

    return load_model(cfg)[0]


@pytest.mark.parametrize("case", list(CASES))
def test_graph_folds_the_factor(case):
    """The dequantize before the softmax shifts by s, the softmax carries round(c log2(e) 2**14)."""
    from mase.compiler.graph import capture

    cfg = _cfg(case)
    g = capture(_model(cfg), cfg.quant, seq_len=8)
    hd = HEAD_DIM[case]
    s, c = G.split_scaling(hd**-0.5)
    assert c < 1.0 and 2.0**-s * c == hd**-0.5
    sm = next(n for n in g.nodes if n.op == "softmax")
    deq = next(n for n in g.nodes if n.outputs == sm.inputs)
    assert deq.attrs["shift"] == s and sm.attrs["log2e_q"] == G.softmax_log2e_q(c) == 16714


def _layer0(case: str, quant: str, gain: float):
    """(golden probabilities, golden softmax inputs, float model's probabilities), each (heads, T, T)."""
    from mase.compiler.golden import host_embeddings, run_graph
    from mase.compiler.graph import capture

    cfg = _cfg(case, quant, [f"model.tiny.norm_gain={gain}"])
    model = _model(cfg)
    g = capture(model, cfg.quant, seq_len=T)
    ids = torch.randint(0, 256, (T,), generator=torch.Generator().manual_seed(0))
    p = next(n for n in g.nodes if n.op == "softmax")
    vals = run_graph(g, host_embeddings(model, ids))
    heads = p.attrs["heads"]
    probs = vals[p.outputs[0]].data.double().reshape(T, heads, T).transpose(0, 1) / 2**16
    scores = vals[p.inputs[0]].data.double().reshape(T, heads, T).transpose(0, 1) / 2**10
    model.set_attn_implementation("eager")
    with torch.no_grad():
        ref = model(ids[None], output_attentions=True).attentions[0][0].double()
    return probs, scores, ref


def _softmax(x: torch.Tensor) -> torch.Tensor:
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    return torch.softmax(x.masked_fill(~causal, float("-inf")), -1)


@pytest.mark.parametrize("case", ["llama-d32", "opt-d32"])
def test_hardware_attention_is_the_float_attention(case):
    """Golden (= RTL) probabilities of head_dim 32 match the float model's; without c they would not."""
    probs, scores, ref = _layer0(case, "mxint8", 3.0)  # norm gain 3: scores of a few units, c matters
    s, c = G.split_scaling(32**-0.5)
    assert (probs - _softmax(scores * c)).abs().max() < 1e-3  # the core computes softmax(c x)
    err, without_c = (probs - ref).abs().max().item(), (_softmax(scores) - ref).abs().max().item()
    assert err < 1e-2 and without_c > 3 * err, (err, without_c)


def test_software_hw_softmax_is_the_cores(monkeypatch):
    """quant.nonlinear.softmax=hw: the patched attention feeds the softmax the scores x 2**-s and folds c
    as the core does (LLaMA passes scaling; OPT scaled q already and passes 1.0), c = 1 unchanged."""
    from torch import nn

    from mase.golden.nonlinear_patch import HwAttention, hw_attention_forward

    gen = torch.Generator().manual_seed(1)
    for hd in (8, 16, 32, 96):
        mod = nn.Module()
        mod.scaling, mod.mase_hw = hd**-0.5, HwAttention(softmax=G.SoftmaxConfig())
        q, k, v = (torch.randn(1, 2, T, hd, generator=gen) * 2 for _ in range(3))
        s, c = G.split_scaling(hd**-0.5)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        mask = torch.zeros(1, 1, T, T).masked_fill(~causal, torch.finfo(torch.float32).min)  # as HF's eager
        cfg = G.SoftmaxConfig(log2e_q=G.softmax_log2e_q(c))
        want = G.hw_softmax((q @ k.transpose(-1, -2)) * 2.0**-s, causal.expand(1, 2, T, T), cfg)
        _, llama = hw_attention_forward(mod, q, k, v, mask, scaling=hd**-0.5)
        assert torch.equal(llama, want), hd
        _, opt = hw_attention_forward(mod, q * hd**-0.5, k, v, mask, scaling=1.0)
        assert (opt - want).abs().max() <= 2**-15, hd  # q scaled in float: the scores differ by rounding
        ref = _softmax((q @ k.transpose(-1, -2))[0] * hd**-0.5)
        assert (llama[0] - ref).abs().max() < 2e-3, hd


def test_opt_fixed8_query_scale_has_room_for_one_over_c():
    """fixed8 OPT: q and Q.K^T leave the HF-scaled software range by 2**s / c < 2**(s+1): one more bit."""
    from mase.compiler.graph import capture
    from mase.quantize import calibrate, quantize_model

    cfg = _cfg("opt-d32", "fixed8")
    model = _model(cfg)
    quantize_model(model, "fixed8")
    calibrate(model, torch.arange(2, 66) % 256, window=64)
    g = capture(model, "fixed8", seq_len=8)
    aq = next(mod.mase_attention for mod in model.modules() if hasattr(mod, "mase_attention"))
    qk = next(n for n in g.nodes if n.op == "matmul_qk")
    assert g.edges[qk.inputs[0]].scale == 127 + aq.spec.query.scale_exp + 3  # 1/sqrt(32) = 2**-2 * 0.707
    assert g.edges[qk.outputs[0]].scale == 127 + aq.spec.qk_out.scale_exp + 3


@pytest.mark.slow
@pytest.mark.parametrize("case", ["llama-d8", "llama-d128", "opt-d32"])  # head_dim 32 on LLaMA: generated configs
def test_head_dim_bit_exact(tmp_path, case):
    ctx = run(_cfg(case), tmp_path, stages=["emit", "lint", "sim"])
    man = json.loads((tmp_path / "hw" / "manifest.json").read_text())
    assert man["complete"] and man["nodes_total"] == man["nodes_mapped"]
    s, c = G.split_scaling(HEAD_DIM[case] ** -0.5)
    top = (tmp_path / "hw" / "rtl" / "mase_top.sv").read_text()
    assert f".LOG2E_Q({G.softmax_log2e_q(c)})" in top  # the core gets the golden model's multiplier
    assert ctx.results["lint"]["clean"]
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"], sim
    assert all(r["passed"] and not any(r["mismatches"].values()) for r in sim["runs"])
