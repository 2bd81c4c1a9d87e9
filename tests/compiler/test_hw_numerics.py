"""Issue 10 items 3 and 4: the fixed-point streams between the cores are sized from calibrated ranges,
every clipped value is counted and reported, and the accuracy a hardware run prints is computed
with the hardware's numerics (the golden model of the accelerator)."""

from __future__ import annotations

import importlib
import json
import math

import pytest
import torch
import torch.nn.functional as F

from mase.compiler.golden import host_embeddings, linear_int_fast, output_float, run_graph, saturation_summary
from mase.compiler.graph import HEADROOM_BITS, ROPE, capture, stream_format
from mase.config import compose
from mase.evaluate import eval_tokens, evaluate, numerics_mode
from mase.evaluate.hardware import final_norm_outputs, lm_logits
from mase.models import load_model
from mase.pipeline import run
from mase.quantize import quantize_model

L = importlib.import_module("mase.golden.linear")
PROMPT = "Microscaling formats let a small FPGA run a large language model."


def _model(name: str, gain: float, calibrate: bool, *extra: str):
    cfg = compose([f"+model={name}", "quant=mxint4", "eval=quick", "eval.tokens=128", "quant.calibration_tokens=256",
                   f"model.tiny.norm_gain={gain}", *extra])
    model, tok = load_model(cfg.model)
    quantize_model(model, cfg.quant, name, tok if calibrate else None, cfg.eval if calibrate else None)
    return cfg, model, tok


def _golden(cfg, model, tok, T: int = 8):
    ids = torch.tensor(tok.encode(PROMPT))[:T]
    g = capture(model, cfg.quant, seq_len=T, hw=cfg.hw)
    sat: dict = {}
    return g, run_graph(g, host_embeddings(model, ids), sat=sat), saturation_summary(sat)


def test_stream_format_puts_the_range_inside_the_width():
    for amax in (0.3, 1.0, 13.5, 31.9, 32.0, 700.0):
        _, w, f = stream_format(ROPE, amax)
        assert w == ROPE[1]
        top = ((1 << (w - 1)) - 1) * 2.0**-f
        assert top >= amax * 2**HEADROOM_BITS > top / 2 - 2.0**-f  # fits, with no extra bit wasted
    assert stream_format(ROPE, None) == ROPE and stream_format(ROPE, 0.0) == ROPE
    assert stream_format(("fixed", 20, 12), 1e5, min_f=4)[2] == 4  # the gate table's 1/16 steps


def test_trained_like_gains_clip_with_default_formats_and_not_with_calibrated_ones():
    """norm_gain=100: q/k/v reach +-66 and overflow the default RoPE format (+-32): the golden model
    (and the RTL, bit-exact to it) clipped silently; the calibrated formats clip nothing but the
    softmax input (a fixed format of the core), and that is counted."""
    _, _, default = _golden(*_model("tiny-llama", 100, False))
    assert default["total"] > 0 and any(".q.fx" in e or ".v.fx" in e for e in default["per_edge"])
    cfg, model, tok = _model("tiny-llama", 100, True)
    g, _, calibrated = _golden(cfg, model, tok)
    # the scores beyond the softmax core's +-512 clip there, and beyond +-2048 already in Q.K^T's
    # accumulator (the same values: both reported)
    assert all(e.endswith(("scores.fx", "qk.acc")) for e in calibrated["per_edge"]), calibrated
    assert calibrated["total"] < default["total"]
    q = g.edges["model.layers.0.self_attn.q.fx"]
    assert q.fmt != "fixed16_10" and q.fmt == g.edges["model.layers.0.self_attn.q.rot"].fmt  # RoPE keeps it
    # norm_gain=20: nothing clips, either way (the hardware's distance from the quantized model there is
    # rounding in a sharp softmax, which the hardware numerics now score)
    assert _golden(*_model("tiny-llama", 20, True))[2]["total"] == 0


def test_calibration_text_is_disjoint_from_the_scored_text():
    cfg, model, tok = _model("tiny-opt", 1, True)
    info = model.mase_calibration
    assert info["scored"] == [0, 129] and info["tokens"] == [129, 129 + 256] and info["dataset"] == "lee"
    assert set(model.mase_ranges) >= {"model.decoder.layers.0.fc1", "model.decoder.layers.1.self_attn.out_proj"}


def test_linear_int_fast_is_the_reference_integers():
    torch.manual_seed(0)
    acc = L.AccSpec(-20, 32)
    for trial in range(60):
        xs_lo = (0, 100, 190)[trial % 3]  # small, usual and saturating exponents
        xi, wi = torch.randint(-127, 128, (4, 3, 8)), torch.randint(-7, 8, (5, 3, 8))
        xs, ws = torch.randint(xs_lo, xs_lo + 64, (4, 3)), torch.randint(xs_lo, xs_lo + 64, (5, 3))
        bias = torch.randint(-2**33, 2**33, (5,)) if trial % 2 else None
        args = (xi, xs, L.ElemSpec(8, 0), wi, ws, L.ElemSpec(4, 0), bias, acc)
        assert torch.equal(linear_int_fast(*args), L.linear_int(*args))


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-opt"])
def test_software_path_is_the_golden_model_to_the_last_bit(name):
    """The evaluation's hardware path runs the golden model of the captured graph, so its final norm
    outputs are the golden model's (the bound is 0), and its perplexity is the golden NLL."""
    cfg, model, tok = _model(name, 20, True)
    ids, _ = eval_tokens(tok, "lee", 128)
    g = capture(model, cfg.quant, seq_len=129, hw=cfg.hw)
    golden = run_graph(g, host_embeddings(model, ids))
    assert torch.equal(final_norm_outputs(model, ids, cfg.quant, cfg.hw), golden[g.outputs[0]].data)
    nll = float(F.cross_entropy(lm_logits(model, output_float(g, golden))[:-1], ids[1:]))
    ev = compose([f"+model={name}", "eval=quick", "eval.tokens=128", "eval.window=129", "eval.stride=129"]).eval
    res = evaluate(model, tok, ev, "hardware", cfg.quant, cfg.hw)
    assert res["numerics"] == "hardware" and math.isclose(res["ppl"], math.exp(nll), rel_tol=1e-12)
    assert res["calibration"]["tokens"][0] >= res["scored_tokens"][1]


def test_numerics_default_follows_the_stages():
    ev = compose(["+model=tiny-llama", "eval=quick"]).eval
    assert numerics_mode(ev, ["quantize", "evaluate", "report"]) == "quantized"
    assert numerics_mode(ev, ["quantize", "evaluate", "emit", "lint"]) == "hardware"


def test_a_hardware_run_reports_its_numerics_and_saturations(tmp_path):
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "eval=quick", "eval.tokens=128",
                   "quant.calibration_tokens=256", "model.tiny.norm_gain=100", "eval.float_baseline=false"])
    run(cfg, tmp_path, stages=["quantize", "evaluate", "emit", "report", "hw_report"])
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["numerics"] == "hardware" and rep["calibration"]["tokens"][0] >= rep["scored_tokens"][1]
    assert rep["saturations"]["values"] > 0 and "total" in rep["saturations"]
    hw_sat = rep["hardware"]["saturations"]
    assert hw_sat["source"].startswith("golden model") and hw_sat["total"] == sum(hw_sat["per_edge"].values())
    graph = json.loads((tmp_path / "hw" / "graph.json").read_text())
    assert graph["edges"]["model.layers.0.self_attn.q.fx"]["fmt"] != "fixed16_10"  # the calibrated format
    rows = json.loads((tmp_path / "layers.json").read_text())["rows"]
    assert any("range" in r for r in rows)


def test_decode_numerics_score_the_kv_cache_design(tmp_path):
    """eval.numerics=decode: the golden model in the decode design's causal numerics, named in the
    report, its provenance holding the hw section (the captured graph's formats), next to the
    prefill design's numerics on the same tokens; the two differ only in the last bits."""
    ov = ["+model=tiny-llama", "quant=mxint4", "eval=quick", "eval.tokens=100", "eval.float_baseline=false"]
    out = {}
    for mode in ("decode", "hardware"):
        run(compose(ov + [f"eval.numerics={mode}"]), tmp_path / mode, stages=["quantize", "evaluate", "report"])
        out[mode] = json.loads((tmp_path / mode / "report.json").read_text())
    assert out["decode"]["numerics"] == "decode" and out["hardware"]["numerics"] == "hardware"
    assert "hw" in json.loads((tmp_path / "decode" / "eval.json").read_text())["provenance"]["sections"]
    assert out["decode"]["ppl"] != out["hardware"]["ppl"]
    assert abs(out["decode"]["ppl"] / out["hardware"]["ppl"] - 1) < 0.02
