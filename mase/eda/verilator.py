"""Verilator flows on the generated library: lint (-Wall, clean) and the self-checking simulation.

The simulation model is built once per content of the library: `<build>/.built` records the digest
of the library (paths relative to it, and contents) and the model it produced, written only after
the model exists. The build holds no absolute paths (FuseSoC copies the sources and ROM images into
it; the testbench gets its stimulus folders as plusargs), so a copied or moved run folder reuses it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

from mase.eda.runner import EdaError, _tail, completed, fusesoc, run_tool, write_atomic

from .tools import require


def lint(hw_dir: Path, core: str, build_dir: Path) -> dict[str, Any]:
    require(["verilator"], "lint")
    shutil.rmtree(build_dir, ignore_errors=True)
    log = build_dir / "lint.log"
    out = fusesoc(["run", "--target", "lint", "--build-root", str(build_dir), core], [hw_dir], log=log)
    warnings = [l for l in out.splitlines() if l.startswith("%Warning") or l.startswith("%Error")]
    if warnings:
        raise EdaError(f"lint of {core} is not clean ({len(warnings)} messages)\n{_tail(out, 20)}")
    works = sorted(build_dir.glob("*/lint-verilator"))
    if not works or not completed(out, works[0]):  # clean only if verilator --lint-only ran to the end
        raise EdaError(f"lint of {core} did not run to the end (see {log})\n{_tail(out, 20)}")
    return {"clean": True, "log": str(log), "tool": "verilator --lint-only -Wall"}


def build(hw_dir: Path, core: str, build_dir: Path) -> Path:
    """Build the testbench (once per content); returns the Verilator work root."""
    require(["verilator"], "sim")
    stamp = build_dir / ".built"
    digest = _digest(hw_dir)
    if _reusable(stamp, digest, build_dir):
        return _work_root(build_dir)
    shutil.rmtree(build_dir, ignore_errors=True)
    fusesoc(["run", "--target", "sim", "--build-root", str(build_dir), "--setup", "--build", core], [hw_dir],
            log=build_dir / "build.log")
    work = _work_root(build_dir)
    exe = _executable(work)
    if exe is None or not completed((build_dir / "build.log").read_text(), work):
        raise EdaError(f"the Verilator build of {core} made no testbench executable in {work}\n"
                       f"{_tail((build_dir / 'build.log').read_text(), 20)}")
    write_atomic(stamp, json.dumps({"digest": digest, "exe": str(exe.relative_to(build_dir)),
                                    "exe_bytes": exe.stat().st_size}) + "\n")
    return work


def _reusable(stamp: Path, digest: str, build_dir: Path) -> bool:
    """A stamp of this content whose executable is still there, whole (a copy may have lost it)."""
    try:
        rec = json.loads(stamp.read_text())
        exe = build_dir / rec["exe"]
        return rec["digest"] == digest and exe.is_file() and exe.stat().st_size == rec["exe_bytes"]
    except (OSError, ValueError, KeyError, TypeError):  # no stamp, or one of an older mase
        return False


def _digest(hw_dir: Path) -> str:
    """The library's content (relative paths and bytes) and the core libraries it depends on."""
    from mase.eda.runner import _content_hash

    h = hashlib.sha256(_content_hash([hw_dir]).encode())
    for f in sorted((hw_dir / "mem").glob("*")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _work_root(build_dir: Path) -> Path:
    hits = sorted(build_dir.glob("*/sim-verilator"))
    if not hits:
        raise EdaError(f"no sim-verilator folder under {build_dir}")
    return hits[0]


def _executable(work_root: Path) -> Path | None:
    return next((f for f in sorted(work_root.glob("Vtb_*")) if "." not in f.name and f.is_file()), None)


def run(work_root: Path, stim_dir: Path, run_dir: Path, manifest: dict, seed: int = 1, stall: int = 0, bp: int = 0,
        max_cycles: int | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run the built testbench: stimulus from stim_dir, outputs and log into run_dir."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ports = {}
    for p in manifest["inputs"] + manifest["w_ports"]:
        shutil.copyfile(stim_dir / f"{p['port']}.hex", run_dir / f"{p['port']}.hex")
        ports[p["port"]] = p["beats"]
    for p in manifest["outputs"]:
        ports[p["port"]] = p["beats"]
    total = sum(ports.values())
    max_cycles = max_cycles or 200000 + 400 * total * (1 + max(stall, bp) // 10)
    exe = _executable(work_root)
    if exe is None:
        raise EdaError(f"no testbench executable in {work_root}")
    args = [str(exe), f"+dir={run_dir.resolve()}", f"+exp={stim_dir.resolve()}", f"+seed={seed}", f"+stall={stall}",
            f"+bp={bp}", f"+max_cycles={max_cycles}"] + [f"+{p}_n={n}" for p, n in ports.items()]
    rc, log = run_tool(args, cwd=work_root, timeout=timeout, what=f"simulation (seed {seed}, stall {stall}%, bp {bp}%)",
                       log=run_dir / "sim.log")
    if rc:
        raise EdaError(f"simulation failed (exit {rc}): {exe.name}\n{_tail(log)}")
    if "MASE_TB_TIMEOUT" in log or "MASE_TB_DONE" not in log:
        raise EdaError(f"simulation did not complete (timeout after {max_cycles} cycles or missing outputs)\n{_tail(log)}")
    cycles = int(re.search(r"MASE_TB_DONE cycles=(\d+)", log).group(1))
    checks = {m[0]: {"beats": int(m[1]), "errors": int(m[2]), "first": int(m[3]), "last": int(m[4])}
              for m in re.findall(r"MASE_TB_CHECK (\S+) beats=(\d+) errors=(\d+) first=(-?\d+) last=(-?\d+)", log)}
    m = re.search(r"MASE_TB_INPUTS (.*)", log)
    firsts = {k: int(v) for k, v in re.findall(r"(\S+)=(-?\d+)", m.group(1))} if m else {}
    # the Python side compares the written outputs with the expected files too (independent of the tb)
    mismatches = {}
    for o in manifest["outputs"]:
        got = (run_dir / f"{o['port']}.out").read_text().split()
        exp = (stim_dir / f"{o['port']}.exp").read_text().split()
        bad = sum(int(a, 16) != int(b, 16) for a, b in zip(got, exp)) + abs(len(got) - len(exp))
        mismatches[o["port"]] = bad
    passed = "MASE_TB_PASS" in log and not any(mismatches.values())
    return {"cycles": cycles, "passed": passed, "checks": checks, "mismatches": mismatches, "input_first": firsts,
            "seed": seed, "stall": stall, "bp": bp, "log": str(run_dir / "sim.log")}
