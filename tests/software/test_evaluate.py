"""Perplexity windows, the offline text sources, and the float/quantized comparison."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from mase.config import MaseError, load_group
from mase.evaluate import eval_tokens, evaluate, load_text, perplexity, windows
from mase.evaluate import data as data_mod
from mase.models import ByteTokenizer
from mase.quantize import quantize_model


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 300), window=st.integers(2, 64), stride=st.integers(1, 64))
def test_windows_score_every_token_once(n, window, stride):
    stride = min(stride, window)
    ws = windows(n, window, stride)
    scored = [p for b, e, f in ws for p in range(f, e)]
    assert scored == list(range(1, n))
    assert all(e - b <= window and b < f <= e for b, e, f in ws)


class Uniform(torch.nn.Module):
    """Predicts the uniform distribution: perplexity = vocabulary size exactly."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, input_ids, **_):
        return type("Out", (), {"logits": torch.zeros(*input_ids.shape, self.vocab)})()


def test_perplexity_of_uniform_model_is_vocab():
    res = perplexity(Uniform(50), torch.randint(0, 50, (101,)), window=16, stride=8)
    assert res["tokens"] == 100 and res["ppl"] == pytest.approx(50.0)


def test_windowed_equals_full_context_when_window_covers_everything(tiny_llama):
    model, _ = tiny_llama
    ids = torch.randint(0, 256, (65,))
    full = perplexity(model, ids, window=128, stride=128)
    with torch.no_grad():
        logits = model(ids.unsqueeze(0)).logits[0]
    nll = torch.nn.functional.cross_entropy(logits[:-1], ids[1:])
    assert full["ppl"] == pytest.approx(math.exp(float(nll)), rel=1e-5)
    assert perplexity(model, ids, window=16, stride=4)["tokens"] == 64


def test_window_beyond_model_positions_is_an_error(tiny_llama):
    with pytest.raises(MaseError, match="exceeds the model's 1024 positions"):
        perplexity(tiny_llama[0], torch.zeros(3000, dtype=torch.long), window=2048, stride=2048)


def test_lee_text_is_the_real_corpus():
    text, used = load_text("lee")
    assert used == "lee"
    assert text.startswith("Hundreds of people have been forced to vacate their homes in the Southern Highlands")
    assert text.count("\n\n") == 299  # 300 articles


def test_enwiki_text_has_markup_stripped():
    text, used = load_text("enwiki", max_chars=100_000)
    assert used == "enwiki" and text.startswith("Anarchism is a political philosophy")
    for markup in ("'''", "[[", "]]", "{{", "==", "<ref"):
        assert markup not in text, markup


def test_wikitext2_without_datasets_is_a_clear_error(monkeypatch):
    real = data_mod.importlib.util.find_spec
    monkeypatch.setattr(data_mod.importlib.util, "find_spec", lambda n: None if n == "datasets" else real(n))
    with pytest.raises(MaseError, match="needs the `datasets` package.*eval.dataset=lee"):
        load_text.__wrapped__("wikitext2")
    assert load_text.__wrapped__("auto")[1] == "lee"


def test_eval_tokens_exact_count_and_too_few():
    ids, used = eval_tokens(ByteTokenizer(), "lee", 1000)
    assert ids.numel() == 1001 and used == "lee"
    assert ByteTokenizer().decode(ids[:8].tolist()) == "Hundreds"
    with pytest.raises(MaseError, match="lower eval.tokens"):
        eval_tokens(ByteTokenizer(), "lee", 10_000_000)


def test_evaluate_reports_float_and_quantized_on_same_tokens(tiny_llama):
    model, tok = tiny_llama
    ev = load_group("eval", "quick", tokens=128, window=64, stride=32)
    float_only = evaluate(model, tok, ev)
    assert float_only["ppl"] == float_only["ppl_float"] and float_only["delta_ppl_pct"] == 0
    quantize_model(model, "mxint4")
    res = evaluate(model, tok, ev)
    assert res["tokens"] == 128 and res["dataset"] == "lee"
    assert res["ppl_float"] == pytest.approx(float_only["ppl"], rel=1e-5)
    assert res["ppl"] != res["ppl_float"]
    assert res["delta_ppl_pct"] == pytest.approx(100 * (res["ppl"] - res["ppl_float"]) / res["ppl_float"])
