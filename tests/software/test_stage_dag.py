"""Independent stages side by side (mase.pipeline, `jobs`): dependencies, overlap, jobs=1, the first
error stopping the others (their tool processes ended), Ctrl-C, resume.

Probe stages registered here stand for the slow ones: they sleep, or run a real process (`sleep`)
through mase.eda.runner.run_tool as the EDA stages run Verilator, Yosys and nextpnr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mase.config import MaseError, compose
from mase.pipeline import DEPS, STAGES, WEIGHTS, run, stage, waits_for

QUICK = ["eval=quick", "eval.tokens=64", "eval.window=32", "eval.stride=16", "progress=false"]
FPGA = ["quantize", "evaluate", "emit", "lint", "sim", "synth", "pnr", "report", "hw_report"]


def test_dependency_table_of_the_default_fpga_run():
    w = waits_for(FPGA)
    assert w["quantize"] == [] and w["evaluate"] == ["quantize"] and w["emit"] == ["quantize"]
    assert w["lint"] == ["quantize", "emit"] and w["synth"] == ["quantize", "emit"]  # synth does not wait for lint
    assert "evaluate" not in w["sim"] + w["synth"] + w["pnr"] and "lint" in w["sim"] and "synth" in w["pnr"]
    assert w["report"] == ["quantize", "evaluate"] and w["hw_report"] == FPGA[:-1]
    # only stages of the run's list count; a stage whose dependency is absent waits for what that one needs
    assert waits_for(["emit", "sim", "hw_report"]) == {"emit": [], "sim": ["emit"], "hw_report": ["emit", "sim"]}
    # a later stage the earlier one depends on waits for it: what it reads is not changed under it
    assert waits_for(["lint", "emit"]) == {"lint": [], "emit": ["lint"]}


@pytest.fixture
def probes():
    """Register probe stages; unregistered afterwards."""
    added: list[str] = []

    def add(name: str, fn, deps=(), weight: float = 1.0):
        stage(name, deps=deps, weight=weight)(fn)
        added.append(name)

    yield add
    for n in added:
        STAGES.pop(n, None)
        DEPS.pop(n, None)


def _sleeper(seconds: float, seen: dict):
    def fn(ctx):
        import torch

        seen[threading_name()] = torch.get_num_threads()
        time.sleep(seconds)
        return {"slept": seconds}

    return fn


def threading_name() -> str:
    import threading

    return threading.current_thread().name


def _cfg(stages: list[str], jobs: int, *extra: str):
    return compose(["+model=tiny-llama", f"stages=[{','.join(stages)}]", f"jobs={jobs}", "progress=false", *extra])


def test_independent_stages_overlap_and_dependencies_are_kept(tmp_path, probes):
    seen: dict = {}
    probes("p_a", _sleeper(1.0, seen))
    probes("p_b", _sleeper(1.5, seen))
    probes("p_c", _sleeper(0.2, seen), deps=("p_a",))
    import torch

    base = torch.get_num_threads()
    ctx = run(_cfg(["p_a", "p_b", "p_c"], 2), tmp_path)
    t = ctx.timings
    assert t["p_a"]["start"] < t["p_b"]["end"] and t["p_b"]["start"] < t["p_a"]["end"]  # side by side
    assert t["p_c"]["start"] >= t["p_a"]["end"]  # never before its dependency ended
    assert t["p_c"]["start"] < t["p_b"]["end"]  # ... but not behind the independent one
    assert t["p_b"]["end"] < 2.4  # (sequentially 2.7 s)
    assert seen["stage-p_a"] == seen["stage-p_b"] == 1  # PyTorch: one thread each beside another stage
    assert seen["stage-p_c"] == 1  # started beside p_b
    assert torch.get_num_threads() == base
    assert ctx.results["p_c"] == {"slept": 0.2}


def test_the_longest_path_starts_first(tmp_path, probes):
    """Of the ready stages, the heads of the longest paths (weights) start first: synth before lint."""
    seen: dict = {}
    probes("p_short", _sleeper(0.3, seen), weight=1)
    probes("p_mid", _sleeper(0.3, seen), weight=50)
    probes("p_long", _sleeper(0.3, seen), weight=10)
    probes("p_after", _sleeper(0.1, seen), deps=("p_long",), weight=100)
    t = run(_cfg(["p_short", "p_mid", "p_long", "p_after"], 2), tmp_path).timings
    assert t["p_short"]["start"] >= min(t["p_mid"]["end"], t["p_long"]["end"])  # waited for a free slot
    assert t["p_long"]["start"] < t["p_mid"]["end"] and t["p_mid"]["start"] < t["p_long"]["end"]
    assert waits_for(FPGA)["synth"] == ["quantize", "emit"]


def test_a_stage_of_weight_0_takes_no_slot(tmp_path, probes):
    """report (weight 0: tables from results on disk) prints as soon as its inputs exist, not after a
    long stage frees a slot; the two long stages still run side by side."""
    seen: dict = {}
    probes("p_long1", _sleeper(1.0, seen), weight=100)
    probes("p_long2", _sleeper(1.0, seen), weight=100)
    probes("p_table", _sleeper(0.1, seen), weight=0)
    t = run(_cfg(["p_long1", "p_long2", "p_table"], 2), tmp_path).timings
    assert t["p_table"]["end"] < min(t["p_long1"]["end"], t["p_long2"]["end"])
    assert t["p_long1"]["start"] < t["p_long2"]["end"] and t["p_long2"]["start"] < t["p_long1"]["end"]
    assert WEIGHTS["report"] == 0


def test_jobs_1_is_the_list_order(tmp_path, probes):
    seen: dict = {}
    for n in ("p_a", "p_b", "p_c"):
        probes(n, _sleeper(0.3, seen))
    ctx = run(_cfg(["p_b", "p_c", "p_a"], 1), tmp_path)
    t = ctx.timings
    assert t["p_b"]["end"] <= t["p_c"]["start"] and t["p_c"]["end"] <= t["p_a"]["start"]
    assert set(seen) == {"MainThread"}  # in the calling thread


def test_jobs_is_checked(tmp_path):
    with pytest.raises(MaseError, match=r"jobs=-1: must be at least 0"):
        run(_cfg(["quantize"], -1), tmp_path)


def _pids_of(mark: str) -> list[int]:
    """The `sleep MARK` processes."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "cmdline").read_bytes() == f"sleep\0{mark}\0".encode():
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def _tool_stage(mark: str):
    def fn(ctx):
        from mase.eda.runner import run_tool

        run_tool(["sleep", mark], what="a long tool")  # `sleep 61.37`: a real process, in its own group
        return {"done": True}

    return fn


def test_first_error_stops_the_running_tool_and_nothing_else_starts(tmp_path, probes):
    mark = f"61.{os.getpid() % 1000:03d}"
    started: list = []

    def fail(ctx):
        time.sleep(1.0)
        assert _pids_of(mark), "the tool did not start beside the failing stage"
        raise MaseError("p_fail: boom")

    probes("p_tool", _tool_stage(mark))
    probes("p_fail", fail)
    probes("p_next", lambda ctx: started.append(1) or {}, deps=("p_fail",))
    t0 = time.monotonic()
    with pytest.raises(MaseError, match="p_fail: boom"):
        run(_cfg(["p_tool", "p_fail", "p_next"], 2), tmp_path)
    assert time.monotonic() - t0 < 20  # not the tool's 61 s
    assert not _pids_of(mark)  # its process group was ended
    assert not started
    from mase import cancel

    assert not cancel.cancelled()  # the next run starts clean


SCRIPT = textwrap.dedent("""
    import sys, time
    from mase.pipeline import stage
    from mase.errors import MaseError

    @stage("p_tool", deps=())
    def p_tool(ctx):
        from mase.eda.runner import run_tool
        run_tool(["sleep", mark], what="a long tool")
        return {}

    @stage("p_py", deps=())
    def p_py(ctx):
        from mase.report.progress import track
        for _ in track(range(600), "waiting"):
            time.sleep(0.1)
            if mode == "fail":
                raise MaseError("p_py failed: the fix is named here")
        return {}

    from mase.cli import main
    mark, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.argv = sys.argv[:1]
    main(args)
""")


def _cli(tmp_path: Path, mark: str, mode: str) -> subprocess.Popen:
    script = tmp_path / "probe_cli.py"
    script.write_text(SCRIPT)
    args = ["+model=tiny-llama", "stages=[p_tool,p_py]", "jobs=2", "progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    return subprocess.Popen([sys.executable, str(script), mark, mode, *args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "MASE_EAGER": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_cli_first_error_is_one_line(tmp_path):
    mark = f"62.{os.getpid() % 1000:03d}"
    p = _cli(tmp_path, mark, "fail")
    out, _ = p.communicate(timeout=120)
    assert p.returncode == MaseError("").exit_code, out[-2000:]
    assert out.rstrip().splitlines()[-1] == "mase: error: p_py failed: the fix is named here", out[-2000:]
    assert "Traceback" not in out and not _pids_of(mark)


def test_cli_ctrl_c_with_two_stages_running_is_exit_130(tmp_path):
    mark = f"63.{os.getpid() % 1000:03d}"
    p = _cli(tmp_path, mark, "wait")
    try:
        end = time.monotonic() + 120
        while not _pids_of(mark) and time.monotonic() < end and p.poll() is None:
            time.sleep(0.1)
        assert _pids_of(mark), "the tool did not start"
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)  # as a terminal sends it: the tool is in its own group
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, out[-2000:]
    assert out.rstrip().splitlines()[-1] == "mase: interrupted during p_tool, p_py; rerun to resume", out[-2000:]
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    assert not _pids_of(mark)


def test_track_beside_another_live_display_logs_plainly(caplog):
    from mase import cancel
    from mase.report import progress

    progress.set_enabled(True)
    try:
        with progress._LIVE:  # another live display (a tool status) is up
            with caplog.at_level("INFO", logger="mase"):
                assert list(progress.track(range(3), "counting", total=3)) == [0, 1, 2]
        assert "counting: 3/3 done" in caplog.text
        cancel.cancel()
        try:
            with pytest.raises(cancel.Cancelled):
                list(progress.track(range(3), "counting", total=3))
        finally:
            cancel.reset()
    finally:
        progress.set_enabled(False)


def test_real_stages_side_by_side_and_resume(tmp_path):
    """evaluate beside emit (both after quantize, on the one model), report after evaluate; then a resume."""
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "jobs=2",
                   "stages=[quantize,evaluate,emit,report]", *QUICK])
    ctx = run(cfg, tmp_path)
    t = ctx.timings
    assert t["evaluate"]["start"] < t["emit"]["end"] and t["emit"]["start"] < t["evaluate"]["end"]
    assert t["quantize"]["end"] <= min(t["evaluate"]["start"], t["emit"]["start"])
    assert t["report"]["start"] >= t["evaluate"]["end"]
    assert json.loads((tmp_path / "hw" / "emit.json").read_text())["complete"] is True
    again = run(cfg, tmp_path, stages=["quantize", "report"]).results["report"]  # eval.json read back
    assert again["ppl"] == ctx.results["report"]["ppl"]
