"""Issue 16, defects 1 and 8: results of another config in a run folder are refused (never reported as
current), and a run is labelled by the formats it really used.

Real runs of tiny-llama into one folder, in-process (mase.pipeline.run) and, for the exit status and the
one line on stderr, one real `mase` process.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mase.cli import main
from mase.config import MaseError, compose
from mase.pipeline import run
from mase.provenance import quant_label
from mase.report.sweep import sweep_rows

# a few hundred tokens: seconds per run
QUICK = ["eval=quick", "eval.tokens=64", "eval.window=32", "eval.stride=16", "eval.numerics=quantized",
         "quant.calibration_tokens=64"]


def _cfg(quant: str, *more: str):
    return compose(["+model=tiny-llama", f"quant={quant}", *QUICK, *more])


def test_stale_perplexity_is_refused(tmp_path):
    """stages=[quantize,evaluate] with mxint4, then mxint8 with stages=[quantize,report] into the same
    folder used to report mxint4's perplexity under the mxint8 label."""
    ev4 = run(_cfg("mxint4"), tmp_path, stages=["quantize", "evaluate"]).results["evaluate"]
    assert ev4["provenance"]["summary"]["quant"] == "mxint4"
    with pytest.raises(MaseError) as e:
        run(_cfg("mxint8"), tmp_path, stages=["quantize", "report"])
    assert str(e.value) == (f"eval.json in {tmp_path} was computed for another config (quant mxint4, now mxint8): "
                            f"add evaluate to stages or use a new run folder")
    assert not (tmp_path / "report.json").exists()  # refused before any stage ran
    # without the quantize stage the model is the float one: the mxint4 perplexity is not its
    with pytest.raises(MaseError, match=r"\(quant mxint4, now float\): add quantize to stages"):
        run(_cfg("mxint4"), tmp_path, stages=["report"])
    # the same config resumes from eval.json
    rep = run(_cfg("mxint4"), tmp_path, stages=["quantize", "report"]).results["report"]
    assert rep["quant"] == "mxint4" and rep["ppl"] == ev4["ppl"]
    # the eval settings are part of it too
    with pytest.raises(MaseError, match=r"eval.json .* \(eval quick \(64 tokens, quantized numerics\), now quick "
                                        r"\(32 tokens, quantized numerics\)\): add evaluate"):
        run(_cfg("mxint4", "eval.tokens=32"), tmp_path, stages=["quantize", "report"])
    rep8 = run(_cfg("mxint8"), tmp_path, stages=["quantize", "evaluate", "report"]).results["report"]
    assert rep8["quant"] == "mxint8" and rep8["ppl"] != ev4["ppl"]
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["provenance"]["hash"] == rep8["provenance"]["hash"] and saved["provenance"]["state"]["quantized"]


def test_stale_hardware_results_are_refused(tmp_path, cli):
    """An mxint4 library linted, then mxint8 emitted into the same folder: hw_report used to present
    the mxint4 lint (and sim) results as mxint8's."""
    run(_cfg("mxint4"), tmp_path, stages=["emit", "lint"])
    lint = json.loads((tmp_path / "hw" / "lint.json").read_text())
    man = json.loads((tmp_path / "hw" / "manifest.json").read_text())
    assert lint["provenance"]["sections"]["quant"] == man["provenance"]["sections"]["quant"]
    args = ["+model=tiny-llama", "quant=mxint8", *QUICK, "stages=[emit,hw_report]", "progress=false",
            f"hydra.run.dir={tmp_path}"]
    res = cli(args)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("mase: error:")]
    assert errors == [f"mase: error: hw/lint.json in {tmp_path} was computed for another config (quant mxint4, now "
                      f"mxint8): add lint to stages or use a new run folder"]
    assert json.loads((tmp_path / "hw" / "manifest.json").read_text()) == man  # refused before emit ran
    # a tool stage on a library of another config names the emit stage
    with pytest.raises(MaseError, match=r"hw/emit.json in .* \(quant mxint4, now mxint8\): add emit to stages"):
        run(_cfg("mxint8"), tmp_path, stages=["lint"])
    with pytest.raises(MaseError, match=r"^hw/emit.json, hw/lint.json in .* were computed for another config \(hw "
                                        r"defaults, now prompt_tokens=4\): add emit,lint to stages"):
        run(_cfg("mxint4", "hw.prompt_tokens=4"), tmp_path, stages=["hw_report"])
    # the same config resumes; a new emit with its lint replaces both
    hw4 = run(_cfg("mxint4"), tmp_path, stages=["hw_report"]).results["hw_report"]
    assert hw4["label"] == "tiny-llama/mxint4" and hw4["lint"].startswith("clean")
    hw8 = run(_cfg("mxint8"), tmp_path, stages=["emit", "lint", "hw_report"]).results["hw_report"]
    assert hw8["label"] == "tiny-llama/mxint8" and hw8["config_hash"] != hw4["config_hash"]
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["quant"] == "mxint8" and rep["hardware"]["provenance"]["summary"]["quant"] == "mxint8"


def test_overridden_formats_are_labelled_by_them(tmp_path):
    cfg = _cfg("mxint4", "quant.default.weight=mxint5")
    rep = run(cfg, tmp_path / "a", stages=["quantize", "report"]).results["report"]
    assert rep["quant"] == "mxint4(w:mxint5)" and rep["quant_preset"] == "mxint4"
    assert rep["avg_weight_bits"] == 5.25 and rep["ppl"] is None  # bits only: no evaluate stage
    row = sweep_rows([rep])[0]
    assert row["config"] == "tiny-llama/mxint4(w:mxint5)/sim" and row["quant_preset"] == "mxint4"
    # an overridden fixed8 is not the fixed8 baseline of a sweep
    assert sweep_rows([{**rep, "quant": "fixed8(a:mxint8)"}])[0]["baseline"] is None
    assert quant_label(_cfg("mxint4").quant) == "mxint4"
    assert quant_label(_cfg("mxint4", "+quant.overrides={model.layers.*.mlp.down_proj:{weight:mxint8}}").quant) == \
        "mxint4(model.layers.*.mlp.down_proj.w:mxint8)"
    assert quant_label(_cfg("mxint8", "quant.nonlinear.softmax=hw").quant) == "mxint8(softmax:hw)"


@pytest.mark.parametrize("args, fragment", [
    (["stages=[]"], "stages=[] runs nothing: name the stages to run (in order: quantize, evaluate"),
])
def test_bad_stage_lists(args, fragment, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["+model=tiny-llama", *args])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert exc.value.code == 2 and len(lines) == 1 and lines[0].startswith(f"mase: error: {fragment}"), err
    assert not any(tmp_path.iterdir())  # refused before Hydra made a folder


def test_a_report_of_nothing_is_refused(tmp_path):
    """stages=[report] on a fresh folder used to write quant "float", ppl null with exit status 0."""
    with pytest.raises(MaseError, match=r"^stage report has nothing to report: no quantize or evaluate stage and no "
                                        r"eval.json in .*: add them, e.g. stages=\[quantize,evaluate,report\]$"):
        run(_cfg("mxint4"), tmp_path, stages=["report"])
    with pytest.raises(MaseError, match=r"stages=\[\] runs nothing"):
        run(_cfg("mxint4"), tmp_path, stages=[])
    with pytest.raises(MaseError, match=r"needs the results of the emit stage \(hw/emit.json\), not in .*: run the "
                                        r"emit stage first"):
        run(_cfg("mxint4"), tmp_path, stages=["quantize", "hw_report"])
    assert not (tmp_path / "layers.json").exists()  # refused before quantize ran
