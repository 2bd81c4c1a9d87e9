"""Zero-shot task accuracy (eval=polarity), more texts (eval.extra_datasets), their report and sweep columns."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mase.config import MaseError, compose, load_group
from mase.config.validate import validate_eval
from mase.evaluate import evaluate
from mase.evaluate.data import polarity_examples
from mase.evaluate.task import examples, task_accuracy
from mase.models import ByteTokenizer
from mase.pipeline import run
from mase.quantize import quantize_model
from mase.report.sweep import sweep_rows, sweep_table

QUICK = ["eval.tokens=64", "eval.window=32", "eval.stride=16", "eval.task.examples=4", "progress=false"]


def test_polarity_is_the_real_labelled_data():
    rows = polarity_examples()
    assert len(rows) == 200 and sum(lab == "pos" for _, lab in rows) == 100
    assert rows[0] == ("simplistic , silly and tedious .", "neg")
    assert any("clichés" in t for t, _ in rows)  # cp1252 accents decoded


def test_short_runs_stay_balanced():
    task = load_group("eval", "polarity", task={"examples": 6}).task
    assert [lab for _, lab in examples(task)] == ["neg", "pos"] * 3


class FixedPreference(torch.nn.Module):
    """Byte-level logits that prefer byte `b` everywhere: the label word starting with it wins."""

    def __init__(self, b: int):
        super().__init__()
        self.b = b

    def forward(self, input_ids, **_):
        logits = torch.zeros(*input_ids.shape, 256)
        logits[..., self.b] = 5.0
        return type("Out", (), {"logits": logits})()


def test_accuracy_and_stderr_of_a_model_that_always_says_one_label():
    task = load_group("eval", "polarity", task={"content_free": None}).task
    res = task_accuracy(FixedPreference(ord("n")), ByteTokenizer(), task)  # " negative" after the space
    assert res["n"] == 200 and set(res["predictions"]) == {"neg"}
    assert res["accuracy"] == 50.0 and res["stderr"] == pytest.approx(100 * math.sqrt(0.25 / 199))


def test_content_free_calibration_removes_the_label_prior():
    """A model whose preference ignores the review has nothing left once its content-free scores are
    subtracted: every example ties, and the first label wins (without calibration: always neg)."""
    task = load_group("eval", "polarity", task={"examples": 4}).task
    assert list(task.content_free) == ["N/A", "", "[MASK]"]
    assert set(task_accuracy(FixedPreference(ord("n")), ByteTokenizer(), task)["predictions"]) == {"pos"}
    task.content_free = None
    assert set(task_accuracy(FixedPreference(ord("n")), ByteTokenizer(), task)["predictions"]) == {"neg"}


@pytest.mark.slow
def test_evaluate_scores_the_task_for_the_quantized_and_float_model(tiny_llama):
    model, tok = tiny_llama
    ev = load_group("eval", "polarity", tokens=64, window=32, stride=32, task={"examples": 4},
                    extra_datasets=["enwiki"])
    float_only = evaluate(model, tok, ev)
    assert float_only["task_accuracy"] == float_only["task_accuracy_float"] and float_only["task_examples"] == 4
    quantize_model(model, "mxint4")
    res = evaluate(model, tok, ev)
    assert res["task"] == "polarity" and res["task_accuracy_float"] == float_only["task_accuracy"]
    assert res["delta_task_accuracy"] == res["task_accuracy"] - res["task_accuracy_float"]
    assert 0 <= res["task_agreement"] <= 100 and res["task_accuracy_stderr"] > 0
    per = res["ppl_datasets"]
    assert list(per) == ["lee", "enwiki"] and per["lee"]["ppl"] == res["ppl"]
    assert per["enwiki"]["ppl"] != res["ppl"] and per["enwiki"]["tokens"] == 64
    assert per["enwiki"]["ppl_float"] == pytest.approx(float_only["ppl_datasets"]["enwiki"]["ppl"], rel=1e-5)


@pytest.mark.parametrize("override, message", [
    ({"task": {"prompt": "no slot"}}, "has no {text}"),
    ({"task": {"labels": {"pos": "good", "neg": "good"}}}, "its own non-empty word"),
    ({"extra_datasets": ["imdb"]}, "not a text"),
    ({"extra_datasets": ["lee"]}, "repeats a text"),
])
def test_bad_task_settings_are_one_line(override, message):
    with pytest.raises(MaseError, match=message):
        validate_eval(load_group("eval", "polarity", **override))


def test_a_label_without_a_word_is_named(tiny_llama):
    task = load_group("eval", "polarity").task
    task.labels = {"pos": "positive", "bad": "negative"}
    with pytest.raises(MaseError, match="no word for label.*neg"):
        task_accuracy(tiny_llama[0], ByteTokenizer(), task)


@pytest.mark.slow
def test_report_keeps_perplexity_and_adds_task_and_second_text(tmp_path):
    run(compose(["+model=tiny-llama", "quant=mxint4", "eval=polarity", "eval.extra_datasets=[enwiki]",
                 "stages=[quantize,evaluate,report]", *QUICK]), tmp_path)
    rep = json.loads((tmp_path / "report.json").read_text())
    assert {"ppl", "ppl_float", "delta_ppl_pct", "task", "task_accuracy", "task_accuracy_float",
            "task_accuracy_stderr"} <= set(rep) and set(rep["ppl_datasets"]) == {"lee", "enwiki"}


def test_sweep_table_shows_task_and_both_texts():
    from rich.console import Console

    def rep(quant, acc, enwiki):
        return {"model": "m", "quant": quant, "target": "sim", "ppl": 30.0, "dataset": "lee", "task": "polarity",
                "task_accuracy": acc, "task_accuracy_stderr": 3.2, "delta_task_accuracy": acc - 70.0,
                "ppl_datasets": {"lee": {"ppl": 30.0}, "enwiki": {"ppl": enwiki, "delta_ppl_pct": 1.0}}}

    rows = sweep_rows([rep("fixed8", 60.0, 25.0), rep("mxint4", 66.5, 27.0)])
    assert rows[1]["delta_task_accuracy_vs_fixed8"] == 6.5 and rows[0]["delta_task_accuracy_vs_fixed8"] == 0.0
    console = Console(width=400, record=True)
    console.print(sweep_table(rows))
    text = console.export_text()
    assert "ppl enwiki" in text and "27.000 (+1.00%)" in text and "66.5 +- 3.2" in text and "d acc fixed8" in text


def test_search_report_shows_the_second_text(tmp_path, capsys):
    from rich.console import Console

    from mase.search.report import summarize

    for i, (ppl, enw, acc) in enumerate([(30.0, 40.0, 70.0), (33.0, 41.0, 65.0)]):
        d = tmp_path / f"{i}_trial"
        d.mkdir()
        (d / "search.json").write_text(json.dumps({"objectives": {"ppl": ppl}, "picks": {"mlp": f"mxint{4 + i}"},
                                                   "avg_weight_bits": 4.25 + i}))
        (d / "report.json").write_text(json.dumps({
            "ppl": ppl, "dataset": "lee", "avg_weight_bits": 4.25 + i, "avg_act_bits": 8.25, "task_accuracy": acc,
            "ppl_datasets": {"lee": {"ppl": ppl}, "enwiki": {"ppl": enw}}}))
    console = Console(width=300, record=True)
    summary = summarize(tmp_path, console)
    assert [p["ppl_other"] for p in summary["pareto"]] == [{"enwiki": 40.0}]
    text = console.export_text()
    assert "ppl enwiki" in text and "40.000" in text and "acc %" in text
    assert "ppl_enwiki" in (tmp_path / "search" / "trials.csv").read_text().splitlines()[0]


def test_one_token_label_words_are_scored_from_one_forward(tiny_llama):
    """With one-token words, the prompt's next-token distribution decides, as per-label scoring would."""
    from mase.evaluate.task import _label_logprob, encode

    class OneTokenWords(ByteTokenizer):
        def encode(self, text, **kw):
            return [ord(text.strip()[0])] if text.strip() in ("positive", "negative") else super().encode(text)

    task = load_group("eval", "polarity", task={"examples": 6}).task
    tok = OneTokenWords()
    res = task_accuracy(tiny_llama[0], tok, task)
    items, words, _ = encode(tok, task)
    slow = [max(words, key=lambda lab: _label_logprob(tiny_llama[0], ctx, words[lab])) for ctx, _ in items]
    assert res["predictions"] == slow


def test_paired_change_counts_fixed_and_broken_answers_with_mcnemar_p():
    """gemma3-270m mxint8 with one content-free text: 23 answers made right, 19 made wrong (p 0.64): a
    reshuffle near the boundary, not a change in accuracy; all changes one way is significant."""
    from mase.evaluate import paired_change

    c = paired_change(["pos"] * 42, ["pos"] * 19 + ["neg"] * 23, ["neg"] * 19 + ["pos"] * 23)
    assert (c["task_fixed"], c["task_broken"]) == (23, 19) and c["task_mcnemar_p"] == pytest.approx(0.644, abs=1e-3)
    c = paired_change(["pos"] * 10, ["neg"] * 10, ["pos"] * 10)
    assert (c["task_fixed"], c["task_broken"]) == (10, 0) and c["task_mcnemar_p"] == pytest.approx(2 / 2 ** 10)
    assert paired_change(["pos"], ["pos"], ["pos"])["task_mcnemar_p"] == 1.0
