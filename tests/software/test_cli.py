"""The `mase` command: exit codes, one-line errors, output folders, multirun naming.

Mistakes caught before Hydra starts run in-process (mase.cli.main); full runs use a subprocess.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mase.cli import main
from mase.report import REQUIRED_KEYS


@pytest.fixture
def cli_inproc(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)

    def run(args):
        with pytest.raises(SystemExit) as exc:
            main(args)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, exc.value.code, out.out, out.err)

    return run


def _assert_one_line_error(res, *fragments):
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    lines = [line for line in res.stderr.splitlines() if line.startswith("mase: error:")]
    assert len(lines) == 1, res.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_no_model_lists_models_and_exits_2(cli_inproc):
    res = cli_inproc([])
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    for name in ("smollm2-135m", "opt-125m", "tiny-opt", "tiny-llama"):
        assert name in res.stderr
    assert "example: mase +model=smollm2-135m" in res.stderr


def test_typo_key_is_one_line_exit_2(cli_inproc, tmp_path):
    res = cli_inproc(["+model=tiny-llama", "quant.blok_size=16"])
    _assert_one_line_error(res, "unknown key 'quant.blok_size'", "block_size")
    assert not (tmp_path / "outputs").exists()  # nothing written for a bad config


def test_sweep_without_multirun_and_bad_sweep_value(cli_inproc):
    _assert_one_line_error(cli_inproc(["+model=tiny-llama", "quant=mxint8,mxint4"]), "add -m")
    _assert_one_line_error(cli_inproc(["-m", "+model=tiny-llama", "quant=mxint8,mxint44"]),
                           "unknown quant config 'mxint44'")
    _assert_one_line_error(cli_inproc(["+model=tiny-llama", "quant.nonlinear.softmax=fast"]), "use 'float' or 'hw'")
    _assert_one_line_error(cli_inproc(["+model=tiny-llama", "stages=[quantize,emitt]"]), "unknown stage 'emitt'")


def test_opt125m_offline_not_cached_is_one_line(cli, tmp_path):
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
           "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing cached, nothing listening
    res = cli(["+model=opt-125m", "quant=mxint8", "progress=false"], env=env)
    _assert_one_line_error(res, "opt-125m", "not in the local Hugging Face cache", "hf download")


def test_single_run_writes_config_report_log_and_fusesoc_ignore(cli, tmp_path):
    res = cli(["+model=tiny-opt", "quant=mxint4", "stages=[quantize,evaluate,report]", "eval=quick", "eval.tokens=96", "eval.window=64",
               "eval.stride=32", "progress=false", "output.root=out"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "out" / "FUSESOC_IGNORE").is_file()
    (run_dir,) = list((tmp_path / "out" / "tiny-opt" / "mxint4").iterdir())
    for f in (".hydra/config.yaml", "report.json", "layers.json", "layers.txt", "eval.json", "mase.log"):
        assert (run_dir / f).is_file(), f
    rep = json.loads((run_dir / "report.json").read_text())
    assert set(REQUIRED_KEYS) <= set(rep)
    assert rep["model"] == "tiny-opt" and rep["quant"] == "mxint4" and rep["tokens"] == 96
    assert rep["avg_weight_bits"] == 4.25 and rep["dataset"] == "lee"
    assert "formats applied" in res.stdout and "model.decoder.layers.[0-1].fc1" in res.stdout


def test_multirun_folders_are_readable(cli, tmp_path):
    res = cli(["-m", "+model=tiny-llama", "quant=mxint8,mxfp4", "target=u250", "stages=[quantize,report]",
               "progress=false"])
    assert res.returncode == 0, res.stderr[-2000:]
    root = tmp_path / "multirun"
    assert (root / "FUSESOC_IGNORE").is_file()
    (sweep,) = [p for p in root.iterdir() if p.is_dir()]
    names = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert names == ["0_tiny-llama_mxint8_u250", "1_tiny-llama_mxfp4_u250"]
    rep = json.loads((sweep / names[1] / "report.json").read_text())
    assert rep["quant"] == "mxfp4" and rep["target"]["part"] == "xcu250-figd2104-2L-e"
    assert rep["ppl"] is None  # no evaluate stage


@pytest.mark.slow
def test_default_run_builds_the_accelerator(cli, tmp_path):
    """No stages=: target sim runs quantize, evaluate, emit, lint, sim, report, hw_report."""
    res = cli(["+model=tiny-llama", "quant=mxint4", "eval=quick", "eval.tokens=64", "eval.window=32",
               "eval.stride=16", "progress=false", "output.root=out"], timeout=1800)  # Verilator build
    assert res.returncode == 0, res.stderr[-2000:]
    (run_dir,) = list((tmp_path / "out" / "tiny-llama" / "mxint4").iterdir())
    rep = json.loads((run_dir / "report.json").read_text())
    assert rep["ppl"] is not None and rep["stages"][-1] == "hw_report"
    hw = rep["hardware"]
    assert hw["sim"]["bit_exact"] and hw["cycles"]["decode_source"] == "analytical"
    for f in ("hw/mase_top.core", "hw/emit.json", "hw/lint.json", "hw/sim.json"):
        assert (run_dir / f).is_file(), f


def test_multirun_prints_and_writes_the_sweep_summary(cli, tmp_path):
    res = cli(["-m", "+model=tiny-llama", "quant=fixed8,mxint4", "target=u250",
               "stages=[quantize,evaluate,emit,report,hw_report]", "hw.golden=false", "eval=quick",
               "eval.tokens=64", "eval.window=32", "eval.stride=16", "progress=false"])
    assert res.returncode == 0, res.stderr[-2000:]
    (sweep,) = [p for p in (tmp_path / "multirun").iterdir() if p.is_dir()]
    rows = json.loads((sweep / "sweep.json").read_text())["rows"]
    assert [r["quant"] for r in rows] == ["fixed8", "mxint4"]
    assert rows[0]["energy_vs_fixed8"] == 1.0 and rows[1]["energy_vs_fixed8"] > 0
    assert rows[1]["delta_ppl_vs_fixed8_pct"] is not None and rows[1]["decode_cycles_per_token"] > 0
    assert "accuracy and hardware" in res.stdout and "E/fixed8" in res.stdout
