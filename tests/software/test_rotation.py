"""Rotation of the residual stream folded into the weights (mase.quantize.rotation, quant.rotation)."""

from __future__ import annotations

import pytest
import torch

from mase.config import compose, load_group
from mase.config.errors import MaseError
from mase.models import load_model
from mase.quantize import MXLinear, quantization_disabled, quantize_model
from mase.quantize.rotation import rotate_model, rotation_matrix

IDS = torch.arange(1, 65)[None]


def _tiny(*over: str):
    return load_model(compose(["+model=tiny-llama", "model.tiny.norm_gain=20", *over]).model)[0]


def _logits(model):
    with torch.no_grad():
        return model(IDS).logits


def _close(a, b, rel=1e-4):
    return float((a - b).abs().max()) <= rel * float(b.abs().max())


@pytest.mark.parametrize("n,kind,block", [(576, "hadamard", 0), (64, "hadamard", 0), (96, "random", 0),
                                          (9, "hadamard", 0), (576, "hadamard", 32), (96, "random", 32)])
def test_rotation_matrices_are_orthogonal(n, kind, block):
    q = rotation_matrix(n, kind, seed=3, block=block)
    if block:
        assert q[:block, block:].abs().sum() == 0 and q[block:2 * block, block:2 * block].abs().sum() > 0
    assert torch.allclose(q @ q.T, torch.eye(n, dtype=q.dtype), atol=1e-12)
    assert torch.equal(q, rotation_matrix(n, kind, 3, block)) and not torch.equal(q, rotation_matrix(n, kind, 4, block))


@pytest.mark.parametrize("kind,heads,over", [
    ("hadamard", False, []),
    ("random", True, []),
    ("hadamard", True, ["model.tiny.hidden_size=96", "model.tiny.num_heads=4"]),  # 96 = 32 x 3, head_dim 24
    ("hadamard", True, ["model.tiny.attention_bias=true", "model.tiny.mlp_bias=true"]),
    ("hadamard32", False, []),
])
def test_float_function_kept_and_gains_folded(kind, heads, over):
    model = _tiny(*over)
    ref = _logits(model)
    w_q0 = model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    kind, block = ("hadamard", 32) if kind == "hadamard32" else (kind, 0)
    info = rotate_model(model, kind, seed=1, heads=heads, block=block)
    assert info["rotation"] == kind
    assert _close(_logits(model), ref)
    norms = [m for n, m in model.named_modules() if "norm" in n.split(".")[-1]]
    assert len(norms) == 2 * 2 + 1 and all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in norms)
    assert not torch.allclose(model.model.layers[0].self_attn.q_proj.weight, w_q0 * 20, atol=1e-3)


def test_kept_channels_stay_out_of_the_rotation():
    """rotation_keep: the residual channels with the largest |h| (found on calibration text) keep their
    own weight columns; the function is still the same."""
    from mase.quantize.rotation import keep_channels, massive_channels

    q = keep_channels(rotation_matrix(62, "hadamard"), [5, 40], 64)
    assert torch.allclose(q @ q.T, torch.eye(64, dtype=q.dtype), atol=1e-12)
    assert q[5, 5] == 1 and q[40, 40] == 1 and float(q[5].abs().sum()) == 1 and float(q[:, 40].abs().sum()) == 1
    model = _tiny()
    with torch.no_grad():  # a massive channel, as trained models grow one for the attention sink
        model.model.embed_tokens.weight[:, 7] *= 300
    ref = _logits(model)
    keep = massive_channels(model, IDS[0], 2)
    assert 7 in keep and len(keep) == 2
    wq = model.model.layers[1].self_attn.q_proj.weight[:, 7].clone()
    rotate_model(model, "hadamard", keep=keep)
    assert _close(_logits(model), ref)
    assert torch.equal(model.model.layers[1].self_attn.q_proj.weight[:, 7], wq)  # its own column, gain unfolded
    g = model.model.layers[1].input_layernorm.weight
    assert float(g[7]) == 20.0 and float(g[keep].prod()) == 400.0 and int((g == 1).sum()) == 62


def test_tied_embeddings_are_untied_then_rotated():
    model = _tiny()
    model.lm_head.weight = model.model.embed_tokens.weight  # as smollm2 ships it
    model.config.tie_word_embeddings = True
    ref = _logits(model)
    rotate_model(model, "hadamard")
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    assert not model.config.tie_word_embeddings
    assert _close(_logits(model), ref)


def test_quantized_rotated_model_weights_on_grid_and_float_baseline_kept():
    plain = _tiny()
    ref = _logits(plain)
    model = _tiny()
    q = load_group("quant", "mxint4w8a", rotation="hadamard", rotation_heads=True)
    quantize_model(model, q)
    assert model.mase_rotation == {"rotation": "hadamard", "seed": 0, "heads": True, "kept_channels": [],
                                   "block": 0}
    mods = [m for m in model.modules() if isinstance(m, MXLinear)]
    assert mods and all(torch.equal(m.weight_q, m.spec.weight.fake_quantize(m.weight, axis=-1)) for m in mods)
    with quantization_disabled(model):
        assert _close(_logits(model), ref)


def test_opt_and_bad_rotation_are_one_line():
    from mase.config.validate import validate_config, validate_quant

    cfg = compose(["+model=tiny-llama", "quant=mxint4w8a", "quant.rotation=spin"])
    with pytest.raises(MaseError, match=r"^quant.rotation='spin': choose one of none, hadamard, random"):
        validate_quant(cfg.quant)
    with pytest.raises(MaseError, match=r"^quant.rotation needs a LLaMA-family model"):
        validate_config(compose(["+model=tiny-opt", "quant=mxint4w8a", "quant.rotation=hadamard"]))
    opt = load_model("tiny-opt")[0]
    with pytest.raises(MaseError, match="only LLaMA-family models"):
        rotate_model(opt, "hadamard")


@pytest.mark.slow
def test_rotated_tiny_llama_bit_exact_in_verilator(tmp_path):
    """Rotated weights (in 32-blocks, plus the per-head rotation), gains of 1, GPTQ (the shipped
    recommendation) and the calibrated fixed-point streams: the whole model stays bit-exact."""
    import json

    from mase.pipeline import run

    cfg = compose(["+model=tiny-llama", "model.tiny.norm_gain=20", "quant=mxint4w8a-gptq", "target=sim",
                   "eval=quick", "quant.gptq.tokens=256", "quant.rotation=hadamard", "quant.rotation_block=32",
                   "quant.rotation_heads=true"])
    ctx = run(cfg, tmp_path, stages=["quantize", "emit", "lint", "sim", "hw_report"])
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"], sim
    assert all(r["passed"] and not any(r["mismatches"].values()) for r in sim["runs"])
    assert json.loads((tmp_path / "layers.json").read_text())["quantized"] > 0


def test_shipped_recommendation_runs_on_a_tiny_model():
    """quant=mxint4w8a-gptq with a rotation in 32-blocks: GPTQ weights on the grid, float model unchanged."""
    plain = _tiny()
    ref = _logits(plain)
    model = _tiny()
    q = load_group("quant", "mxint4w8a-gptq", gptq={"tokens": 128}, rotation="hadamard", rotation_block=32)
    quantize_model(model, q, tokenizer=load_model("tiny-llama")[1], eval_cfg=load_group("eval", "quick"))
    mods = [m for m in model.modules() if isinstance(m, MXLinear)]
    assert mods and all(m.weight_float is not None and torch.equal(m.weight_q, m.weight) for m in mods)
    assert all(torch.equal(m.spec.weight.fake_quantize(m.weight, axis=-1), m.weight) for m in mods)
    assert model.mase_calibration["rotation"]["block"] == 32
    with quantization_disabled(model):
        assert _close(_logits(model), ref)
