"""sweep.csv and the sweep plot (issue 15, item 4): written with sweep.json, redrawn by python -m mase.report."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from mase.report.sweep import sweep_rows
from mase.report.sweep_files import write_files


def _report(quant: str, bits: float, ppl: float, lut: int, uj: float) -> dict:
    return {"model": "tiny-llama", "quant": quant, "quant_preset": quant, "target": {"name": "u250"}, "ppl": ppl,
            "ppl_float": 25.0, "avg_weight_bits": bits, "stages": ["report", "hw_report"],
            "hardware": {"resources": {"LUT": lut, "DSP": 4}, "energy": {"energy_per_token_uj": uj}}}


REPORTS = [_report("fixed8", 8.0, 26.0, 70000, 69.4), _report("mxint4", 4.25, 31.5, 125000, 68.8)]


def test_csv_and_plots(tmp_path):
    rows = sweep_rows(REPORTS)
    paths = write_files(rows, tmp_path)
    assert [p.name for p in paths] == ["sweep.csv", "sweep.png", "sweep.svg"]
    table = list(csv.DictReader((tmp_path / "sweep.csv").open()))
    assert [(r["quant"], r["LUT"], r["avg_weight_bits"]) for r in table] == [("fixed8", "70000", "8.0"),
                                                                           ("mxint4", "125000", "4.25")]
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    svg = (tmp_path / "sweep.svg").read_text()
    assert "<svg" in svg and "fixed8" in svg
    write_files(rows, tmp_path)
    assert (tmp_path / "sweep.svg").read_text() == svg  # deterministic: no creation date


def test_no_accuracy_no_plot(tmp_path):
    rows = sweep_rows([{**r, "ppl": None} for r in REPORTS])
    assert [p.name for p in write_files(rows, tmp_path)] == ["sweep.csv"]


def test_report_command_redraws(tmp_path):
    sweep = tmp_path / "sweep"
    for i, rep in enumerate(REPORTS):
        (sweep / str(i)).mkdir(parents=True)
        (sweep / str(i) / "report.json").write_text(json.dumps(rep))
    (sweep / "multirun.yaml").write_text("{}\n")
    res = subprocess.run([sys.executable, "-m", "mase.report", str(sweep)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for name in ("sweep.json", "sweep.csv", "sweep.png", "sweep.svg"):
        assert (sweep / name).is_file(), name
