"""Interrupted tools and moved run folders (issue 16, defects 3 and 10), with real processes and tools.

- Ctrl-C (SIGINT to mase's process group, as a terminal sends it) while Verilator lints: exit 130, one
  line naming the stage, no traceback, no result file claiming success; a rerun completes.
- SIGINT to FuseSoC alone (it then exits 0) during a Verilator build: the build counts as interrupted
  and leaves no `.built` stamp; the next build completes.
- A copied run folder reuses its Verilator build (the digest hashes relative paths and contents) and
  the model runs from the new place; a changed library or a damaged model is rebuilt.
- A run whose hydra.run.dir is elsewhere creates nothing in the current folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mase.eda.runner import SimBuild, ToolInterrupted
from mase.eda import verilator

pytestmark = pytest.mark.skipif(shutil.which("verilator") is None, reason="needs verilator")
LINT_RUN = ["+model=tiny-llama", "quant=mxint4", "stages=[quantize,emit,lint]", "progress=false"]


def _processes() -> list[tuple[int, int, str]]:
    """(pid, process group, command line) of every process we can read."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                pgid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[2])
            except (OSError, IndexError, ValueError):
                continue
            out.append((int(d.name), pgid, cmd))
    return out


def _fusesoc_of(build_root: Path) -> list[tuple[int, int, str]]:
    return [p for p in _processes() if "fusesoc" in p[2] and f"--build-root {build_root}" in p[2]]


def _wait_for(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_ctrl_c_during_lint_is_one_line_exit_130_and_a_rerun_completes(tmp_path):
    cwd, run = tmp_path / "cwd", tmp_path / "runs" / "r1"
    cwd.mkdir()
    env = {**os.environ, "MASE_EAGER": "1", "MASE_EDA_CACHE": str(tmp_path / "eda")}
    cmd = [sys.executable, "-m", "mase.cli", *LINT_RUN, f"hydra.run.dir={run}"]
    log = tmp_path / "first.out"
    with open(log, "w") as out:
        # its own process group with the default SIGINT action (as a shell starts a foreground job)
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            # Verilator is running: FuseSoC's lint make has started under the lint build folder
            _wait_for(lambda: p.poll() is not None or any(
                "lint-verilator" in c or "make" in c for _, g, c in _processes()
                if any(g == f for f, _, _ in _fusesoc_of(run / "build" / "lint"))), 240, "the lint stage's tools")
            assert p.poll() is None, log.read_text()[-2000:]
            os.killpg(p.pid, signal.SIGINT)
            rc = p.wait(60)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    text = log.read_text()
    assert rc == 130, text[-2000:]
    assert text.rstrip().splitlines()[-1] == "mase: interrupted during lint; rerun to resume"
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert not (run / "hw" / "lint.json").exists()  # no result claiming a clean lint
    assert not _fusesoc_of(run / "build" / "lint")  # the tool's process group ended with the run
    assert list(cwd.iterdir()) == []  # hydra.run.dir elsewhere: nothing in the current folder

    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((run / "hw" / "lint.json").read_text())["clean"] is True
    assert (run / "FUSESOC_IGNORE").is_file() and list(cwd.iterdir()) == []


def _interrupt_fusesoc_when_building(build_root: Path, sent: list) -> None:
    """SIGINT to FuseSoC alone once its make runs (FuseSoC then exits 0, 'FuseSoC aborted')."""
    def make_runs():
        for f, _, _ in _fusesoc_of(build_root):
            if any(g == f and "make" in c for _, g, c in _processes()):
                return f
        return None

    try:
        pid = _wait_for(make_runs, 120, "the Verilator build")
        os.kill(pid, signal.SIGINT)
        sent.append(pid)
    except AssertionError:
        pass


@pytest.mark.slow
def test_sim_build_stamp_interrupt_and_copied_folder(tmp_path, monkeypatch):
    """One small core (mase:mx:stream's testbench) stands for a generated library's simulation."""
    monkeypatch.setenv("MASE_EDA_CACHE", str(tmp_path / "eda"))
    core = "mase:mx:stream"
    run = tmp_path / "run"
    hw, build = run / "hw", run / "build" / "sim_hw"
    (hw / "mem").mkdir(parents=True)
    (hw / "mem" / "w.hex").write_text("0a\n0b\n")

    sent: list = []
    t = threading.Thread(target=_interrupt_fusesoc_when_building, args=(build, sent))
    t.start()
    with pytest.raises(ToolInterrupted):
        verilator.build(hw, core, build)
    t.join()
    assert sent, "the build ended before FuseSoC could be interrupted"
    assert "FuseSoC aborted" in (build / "build.log").read_text()  # FuseSoC's exit status was 0
    assert not (build / ".built").exists()

    work = verilator.build(hw, core, build)  # the next run builds
    stamp = json.loads((build / ".built").read_text())
    exe = build / stamp["exe"]
    assert exe.is_file() and stamp["exe_bytes"] == exe.stat().st_size

    # copy the run folder and move the original away: the copy reuses its build and runs from there
    digest = verilator._digest(hw)
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, moved, symlinks=True)
    run.rename(tmp_path / "gone")
    hw2, build2 = moved / "hw", moved / "build" / "sim_hw"
    assert verilator._digest(hw2) == digest
    exe2 = build2 / stamp["exe"]
    before = exe2.stat().st_mtime_ns
    assert verilator.build(hw2, core, build2) == build2 / work.relative_to(build)
    assert exe2.stat().st_mtime_ns == before  # not rebuilt
    beats = [3, 250, 17, 0, 255]
    res = SimBuild(core, {}, build2).run({"in": beats}, {"out": len(beats)}, via_fusesoc=False, widths={"in": 8})
    assert res.outputs["out"] == [b | (b << 8) for b in beats]

    # what must not be reused: another library content, a damaged model
    (hw2 / "mem" / "w.hex").write_text("0a\n0c\n")
    assert verilator._digest(hw2) != digest
    assert not verilator._reusable(build2 / ".built", verilator._digest(hw2), build2)
    (hw2 / "mem" / "w.hex").write_text("0a\n0b\n")
    assert verilator._reusable(build2 / ".built", digest, build2)
    exe2.write_bytes(exe2.read_bytes()[:1000])
    assert not verilator._reusable(build2 / ".built", digest, build2)


@pytest.mark.slow
def test_sweep_elsewhere_leaves_the_current_folder_empty(tmp_path):
    cwd, sweep = tmp_path / "cwd", tmp_path / "sweeps" / "s1"
    cwd.mkdir()
    res = subprocess.run([sys.executable, "-m", "mase.cli", "-m", "+model=tiny-llama", "quant=mxint4",
                          "stages=[quantize]", "progress=false", f"hydra.sweep.dir={sweep}"], cwd=cwd,
                         env={**os.environ, "MASE_EAGER": "1"}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert list(cwd.iterdir()) == []  # no ./multirun, no ./outputs
    (job,) = [p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert (job / "FUSESOC_IGNORE").is_file() and (job / "layers.json").is_file()
