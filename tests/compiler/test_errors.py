"""Errors of the hardware stages: a failing tool stops the flow and shows its log's last lines, and
nothing is written outside the run folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mase.config import MaseError, compose
from mase.pipeline import run


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_failed_lint_shows_log_tail_and_stops(tmp_path, monkeypatch):
    cfg = compose(["+model=tiny-opt", "quant=mxint4", "target=sim", "hw.golden=false"])
    out = tmp_path / "run"
    run(cfg, out, stages=["emit"])
    top = out / "hw" / "rtl" / "mase_top.sv"
    top.write_text(top.read_text().replace("endmodule", "this_is_not_verilog;\nendmodule", 1))
    with pytest.raises(MaseError) as e:
        run(cfg, out, stages=["lint", "sim"])
    msg = str(e.value)
    assert msg.startswith("lint of mase:gen:mase_top") and "failed" in msg.splitlines()[0]
    assert "%Error" in msg and len(msg.splitlines()) > 1  # the log's last lines
    assert not (out / "hw" / "lint.json").exists() and not (out / "hw" / "sim.json").exists()


def test_emit_writes_only_into_the_run_folder(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=u250", "hw.golden=false"])
    before = _tree(tmp_path)
    run(cfg, work / "out", stages=["emit"])
    new = {p for p in _tree(tmp_path) - before if not p.startswith(os.path.join("cwd", "out"))}
    assert new == set()
    man = json.loads((work / "out" / "hw" / "manifest.json").read_text())
    assert man["complete"]
