"""Per-layer quantization: patterns, exclusions, the linear and attention arithmetic, bit counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mase.config import MaseError, load_group
from mase.formats import get_format
from mase.quantize import (
    AttentionQuant, AttentionSpec, MXLinear, bit_stats, layer_table, mx_attention_forward, quantization_disabled,
    quantize_model, register_kernels,
)
from mase.quantize.kernels import LINEAR_KERNELS, MATMUL_KERNELS

IDS = torch.tensor([[72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 10, 84, 104, 105, 115]])


def _rows(model):
    return {r["name"]: r for r in layer_table(model)}


def _quant(**over):
    return load_group("quant", over.pop("_name", "mxint4"), **over)


def test_default_quantizes_every_linear_but_lm_head(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, "mxint4")
    rows = _rows(model)
    assert rows["lm_head"]["quantized"] is False and rows["lm_head"]["source"] == "excluded:lm_head"
    assert isinstance(model.lm_head, nn.Linear) and not isinstance(model.lm_head, MXLinear)
    linears = [n for n, r in rows.items() if r["kind"] == "linear" and n != "lm_head"]
    assert len(linears) == 14 and all(isinstance(model.get_submodule(n), MXLinear) for n in linears)
    attn = [r for r in rows.values() if r["kind"] == "attention"]
    assert len(attn) == 2 and all(r["scores"] == "mxint4" for r in attn)
    assert model.config._attn_implementation == "mase_mx"


def test_lm_head_can_be_quantized(tiny_opt):
    model, _ = tiny_opt
    quantize_model(model, _quant(exclude=[]))
    assert isinstance(model.lm_head, MXLinear)


def test_overrides_by_glob_later_wins_and_block_size(tiny_llama):
    model, _ = tiny_llama
    q = _quant(overrides={
        "model.layers.*.mlp.down_proj": {"weight": "mxint8"},
        "model.layers.1.mlp.down_proj": {"act": "mxfp8", "block_size": 16},
        "model.layers.0.self_attn": {"scores": "mxint8"},
    })
    quantize_model(model, q)
    rows = _rows(model)
    r0, r1 = rows["model.layers.0.mlp.down_proj"], rows["model.layers.1.mlp.down_proj"]
    assert (r0["weight"], r0["act"], r0["block_size"]) == ("mxint8", "mxint4", 32)
    assert (r1["weight"], r1["act"], r1["block_size"]) == ("mxint8", "mxfp8_e4m3", 16)
    assert r1["source"] == "override:model.layers.*.mlp.down_proj,model.layers.1.mlp.down_proj"
    assert rows["model.layers.0.mlp.up_proj"]["weight"] == "mxint4"
    assert rows["model.layers.0.self_attn"]["scores"] == "mxint8"
    assert rows["model.layers.1.self_attn"]["scores"] == "mxint4"
    assert model.model.layers[1].mlp.down_proj.spec.act.block_size == 16


@pytest.mark.parametrize("over, pattern", [
    ({"overrides": {"model.layers.*.mlp.fc9": {"weight": "mxint8"}}}, r"pattern 'model.layers.\*.mlp.fc9' matches no layer"),
    ({"exclude": ["lm_haed"]}, r"quant.exclude pattern 'lm_haed' matches no layer"),
    ({"overrides": {"*.mlp.*": {"query": "mxint8"}}}, r"sets attention fields .* matches only linear"),
    ({"overrides": {"*.self_attn": {"weight": "mxint8"}}}, r"sets weight/act/bias but matches only attention"),
])
def test_pattern_errors(tiny_llama, over, pattern):
    model, _ = tiny_llama
    with pytest.raises(MaseError, match=pattern) as exc:
        quantize_model(model, _quant(**over))
    assert "\n" not in str(exc.value)


def test_pattern_of_other_family_is_an_error(tiny_opt):
    model, _ = tiny_opt
    with pytest.raises(MaseError, match="matches no layer of tiny-opt; layer names look like model.decoder"):
        quantize_model(model, "mxint4-mixed", model_name="tiny-opt")


def test_quantizing_twice_is_an_error(tiny_opt):
    model, _ = tiny_opt
    quantize_model(model, "mxint8")
    with pytest.raises(MaseError, match="already quantized"):
        quantize_model(model, "mxint8")


def test_mxlinear_matches_hand_composition(tiny_opt):
    model, _ = tiny_opt
    lin = model.model.decoder.layers[0].fc1
    w, b = lin.weight.detach().clone(), lin.bias.detach().clone()
    quantize_model(model, "mxint4w8a")
    q = model.model.decoder.layers[0].fc1
    x = torch.randn(3, 5, 64)
    w4, a8 = get_format("mxint4"), get_format("mxint8")
    expect = F.linear(a8.fake_quantize(x), w4.fake_quantize(w), a8.fake_quantize(b))
    assert torch.equal(q(x), expect)
    assert torch.equal(q.weight, w)  # float weights untouched


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-opt"])
def test_float_baseline_and_fp32_are_the_original_model(name):
    from mase.models import load_model

    model, _ = load_model(name)
    with torch.no_grad():
        ref = model(IDS).logits
        quantize_model(model, "mxint4")
        q = model(IDS).logits
        with quantization_disabled(model):
            f = model(IDS).logits
    assert torch.allclose(f, ref, atol=1e-5)
    assert not torch.allclose(q, ref, atol=1e-3)
    model2, _ = load_model(name)
    with torch.no_grad():
        quantize_model(model2, "fp32")
        assert torch.allclose(model2(IDS).logits, ref, atol=1e-5)


def test_tied_weights_stay_tied():
    from mase.models import load_model

    model, _ = load_model("tiny-opt")  # OPT ties lm_head to the embedding
    assert model.lm_head.weight is model.model.decoder.embed_tokens.weight
    quantize_model(model, _quant(exclude=[]))
    assert model.lm_head.weight is model.model.decoder.embed_tokens.weight
    n_params = sum(p.numel() for p in model.parameters())
    emb = model.lm_head.weight.numel()
    stats = bit_stats(model)
    # the tied tensor is counted once, at the lm_head's 4.25 bits
    other = n_params - sum(m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
                           for m in model.modules() if isinstance(m, MXLinear) and m is not model.lm_head) - emb
    lin_bits = sum((m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)) * 4.25
                   for m in model.modules() if isinstance(m, MXLinear) and m is not model.lm_head)
    assert stats["weight_memory_mb"] == pytest.approx((other * 32 + lin_bits + emb * 4.25) / 8e6)


# --------------------------------------------------------------------------- attention, by hand
def _attn_module(fmt="mxint4"):
    f = get_format(fmt)
    m = nn.Module()
    m.mase_attention = AttentionQuant(AttentionSpec(f, f, f, f, 32))
    return m


def test_attention_matmuls_against_hand_computed_case():
    """One head, head_dim 4, two tokens, causal mask, MXINT4 (Q1.2 elements, k=32 so one block).

    Q rows: [1, .3, -.6, .1] -> scale 1 -> [1, .25, -.5, 0];  [.5]*4 -> scale .5 -> [.5]*4
    K rows: [.9, -.2, .4, .7] -> scale .5 -> [.875, -.25, .375, .75];  [2, 1, -1, 3] exact (scale 2)
    scores = Qq Kq^T: [[.625, 2.75], [.875, 2.5]]; causal: row 0 sees key 0 only -> p0 = [1, 0]
    p1 = softmax([.875, 2.5]) = [.16453, .83547] -> scale .5 -> [.125, .875]
    V blocked along the key axis (columns): [.3, 1.2] -> [.25, 1.25]; [-1, .2] -> [-1, .25];
    [.6, -.4] -> [.625, -.375]; [0, .8] -> [0, .75]
    out0 = Vq row 0 = [.25, -1, .625, 0]; out1 = .125 Vq0 + .875 Vq1 = [1.125, .09375, -.25, .65625]
    """
    q = torch.tensor([[1.0, 0.3, -0.6, 0.1], [0.5, 0.5, 0.5, 0.5]]).view(1, 1, 2, 4)
    k = torch.tensor([[0.9, -0.2, 0.4, 0.7], [2.0, 1.0, -1.0, 3.0]]).view(1, 1, 2, 4)
    v = torch.tensor([[0.3, -1.0, 0.6, 0.0], [1.2, 0.2, -0.4, 0.8]]).view(1, 1, 2, 4)
    mask = torch.tensor([[0.0, torch.finfo(torch.float32).min], [0.0, 0.0]]).view(1, 1, 2, 2)
    module = _attn_module()
    out, probs = mx_attention_forward(module, q, k, v, mask, scaling=1.0)
    expect = torch.tensor([[0.25, -1.0, 0.625, 0.0], [1.125, 0.09375, -0.25, 0.65625]])
    assert torch.equal(out[0, :, 0, :], expect)
    p1 = 1 / (1 + math.exp(2.5 - 0.875))
    assert probs[0, 0, 1].tolist() == pytest.approx([p1, 1 - p1], abs=1e-6)
    assert module.mase_attention.elements == {"query": 8, "key": 8, "scores": 4, "value": 8}


def test_attention_float_path_equals_eager_with_grouped_heads():
    from transformers.models.llama.modeling_llama import eager_attention_forward

    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 2, 6, 8), torch.randn(2, 2, 6, 8)
    mask = torch.triu(torch.full((6, 6), -1e30), 1).view(1, 1, 6, 6)
    m = nn.Module()
    m.num_key_value_groups = 2
    ref, _ = eager_attention_forward(m, q, k, v, mask, scaling=0.3)
    out, _ = mx_attention_forward(m, q, k, v, mask, scaling=0.3)
    assert torch.allclose(out, ref, atol=1e-6)


def test_grouped_query_quantization_equals_repeated_heads():
    torch.manual_seed(1)
    q, k, v = torch.randn(1, 4, 5, 16), torch.randn(1, 2, 5, 16), torch.randn(1, 2, 5, 16)
    rep = lambda t: t.repeat_interleave(2, dim=1)  # noqa: E731
    a, _ = mx_attention_forward(_attn_module("mxfp4"), q, k, v, None, scaling=0.25)
    b, _ = mx_attention_forward(_attn_module("mxfp4"), q, rep(k), rep(v), None, scaling=0.25)
    assert torch.equal(a, b)


def test_attention_quantization_runs_inside_the_model(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, "mxint8")
    with torch.no_grad():
        model(IDS)
    aq = model.model.layers[0].self_attn.mase_attention
    assert aq.elements["scores"] == 4 * IDS.shape[1] ** 2 and aq.elements["query"] == IDS.numel() * 64


def test_attention_can_be_disabled(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, _quant(attention={"enabled": False}))
    assert all(r["quantized"] is False for r in layer_table(model) if r["kind"] == "attention")
    assert not hasattr(model.model.layers[0].self_attn, "mase_attention")


# --------------------------------------------------------------------------- kernel hook, bits
def test_kernel_hook_replaces_the_arithmetic(tiny_opt):
    calls = {"linear": 0, "matmul": 0}

    def lin(layer, x):
        calls["linear"] += 1
        return LINEAR_KERNELS["fake"](layer, x)

    def mm(a, b, fa, fb):
        calls["matmul"] += 1
        return MATMUL_KERNELS["fake"](a, b, fa, fb)

    register_kernels("spy", linear=lin, matmul=mm)
    try:
        model, _ = tiny_opt
        quantize_model(model, _quant(mode="spy"))
        with torch.no_grad():
            model(IDS)
        assert calls == {"linear": 12, "matmul": 4}
    finally:
        LINEAR_KERNELS.pop("spy")
        MATMUL_KERNELS.pop("spy")


@pytest.mark.parametrize("name, wbits, abits", [
    ("mxint4", 4.25, 4.25), ("mxint8", 8.25, 8.25), ("mxfp6", 6.25, 6.25), ("mxint4w8a", 4.25, 8.25),
    ("fixed8", 8.0, 8.0), ("fp32", 32.0, 32.0),
])
def test_bit_stats(tiny_llama, name, wbits, abits):
    model, _ = tiny_llama
    quantize_model(model, name)
    s = bit_stats(model)
    assert s["avg_weight_bits"] == wbits and s["avg_act_bits"] == abits and not s["act_bits_measured"]
    with torch.no_grad():
        model(IDS)
    s = bit_stats(model)
    assert s["act_bits_measured"] and s["avg_act_bits"] == pytest.approx(abits)


def test_mixed_bits_are_weighted_by_elements(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, _quant(overrides={"*.mlp.down_proj": {"weight": "mxint8"}}))
    mx = [m for m in model.modules() if isinstance(m, MXLinear)]
    n8 = sum(m.weight.numel() for m in mx if m.spec.weight.name == "mxint8")
    n = sum(m.weight.numel() for m in mx)
    assert bit_stats(model)["avg_weight_bits"] == pytest.approx((n8 * 8.25 + (n - n8) * 4.25) / n)
