"""Stages from Python: run, results on disk, report keys, resume, registering a stage."""

from __future__ import annotations

import json

import pytest

from mase.config import MaseError, compose
from mase.pipeline import STAGES, run, stage
from mase.report import REQUIRED_KEYS

QUICK = ["eval=quick", "eval.tokens=64", "eval.window=32", "eval.stride=16", "progress=false"]
ACCURACY = "stages=[quantize,evaluate,report]"  # the default stages also build the hardware (target-dependent)


def test_stages_in_order_and_report_keys(tmp_path):
    order = list(STAGES)
    assert order.index("quantize") < order.index("evaluate") < order.index("report")
    ctx = run(compose(["+model=tiny-llama", "quant=mxint4w8a", "target=ecp5-85k", ACCURACY, *QUICK]), tmp_path)
    rep = json.loads((tmp_path / "report.json").read_text())
    assert set(REQUIRED_KEYS) <= set(rep) and rep == json.loads(json.dumps(ctx.results["report"]))
    assert rep["model"] == "tiny-llama" and rep["quant"] == "mxint4w8a" and rep["tokens"] == 64
    assert rep["avg_weight_bits"] == 4.25 and rep["avg_act_bits"] == pytest.approx(8.25)
    assert rep["delta_ppl_pct"] == pytest.approx(100 * (rep["ppl"] - rep["ppl_float"]) / rep["ppl_float"])
    assert rep["target"]["part"] == "LFE5U-85F-6BG381C" and rep["layers"]["quantized"] == 16
    assert rep["weight_memory_mb"] > 0 and rep["dataset"] == "lee"
    from omegaconf import OmegaConf

    saved = OmegaConf.load(tmp_path / "mase_config.yaml")
    assert saved.quant.name == "mxint4w8a" and saved.target.name == "ecp5-85k"
    layers = json.loads((tmp_path / "layers.json").read_text())["rows"]
    assert {r["name"] for r in layers} >= {"lm_head", "model.layers.0.self_attn", "model.layers.1.mlp.down_proj"}


def test_report_resumes_from_saved_results(tmp_path):
    cfg = compose(["+model=tiny-opt", "quant=mxfp6", ACCURACY, *QUICK])
    first = run(cfg, tmp_path).results["report"]
    again = run(cfg, tmp_path, stages=["quantize", "report"]).results["report"]  # evaluate read from eval.json
    assert again["ppl"] == first["ppl"] and again["quant"] == "mxfp6"


def test_float_only_run(tmp_path):
    rep = run(compose(["+model=tiny-opt", "stages=[evaluate,report]", *QUICK]), tmp_path).results["report"]
    assert rep["quant"] == "float" and rep["ppl"] == rep["ppl_float"] and rep["avg_weight_bits"] == 32.0


def test_registering_a_stage(tmp_path):
    seen = {}

    @stage("probe", after="evaluate")
    def probe(ctx):
        seen["ppl"] = ctx.result("evaluate")["ppl"]
        return {"ok": True}

    try:
        assert list(STAGES).index("probe") == list(STAGES).index("evaluate") + 1
        ctx = run(compose(["+model=tiny-llama", "stages=[quantize,evaluate,probe]", *QUICK]), tmp_path)
        assert ctx.results["probe"] == {"ok": True} and seen["ppl"] > 1
    finally:
        STAGES.pop("probe")


def test_run_validates_first(tmp_path):
    with pytest.raises(MaseError, match=r"\+model=NAME"):
        run(compose([]), tmp_path)
    assert not any(tmp_path.iterdir())


def test_summary_table_over_runs(tmp_path, capsys):
    from mase.report.__main__ import main as report_main

    for q in ("mxint8", "mxfp4"):
        run(compose(["+model=tiny-opt", f"quant={q}", "stages=[quantize,report]", *QUICK]), tmp_path / q)
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mxint8" in out and "mxfp4" in out and "tiny-opt" in out
    assert report_main([str(tmp_path / "nothing")]) == 2


def test_default_stages_depend_on_the_target():
    """`mase +model=M quant=Q target=T` builds the accelerator: stages: ${target.stages}."""
    sim = ["quantize", "evaluate", "emit", "lint", "sim", "report", "hw_report"]
    assert list(compose(["+model=tiny-llama"]).stages) == sim
    for t in ("u250", "ice40-up5k", "ecp5-85k"):
        stages = list(compose(["+model=tiny-llama", f"target={t}"]).stages)
        assert stages == sim[:5] + ["synth", "pnr"] + sim[5:], t
        assert [s for s in STAGES if s in stages] == stages  # the canonical order
    # explicit stages win, also per target
    assert list(compose(["+model=tiny-llama", "target=u250", "stages=[quantize,report]"]).stages) == ["quantize", "report"]
    assert list(compose(["+model=tiny-llama", "target.stages=[emit]"]).stages) == ["emit"]
    with pytest.raises(MaseError, match="unknown stage 'emitt'"):
        run(compose(["+model=tiny-llama", "target.stages=[emitt]"]), "/nonexistent/never-created")
