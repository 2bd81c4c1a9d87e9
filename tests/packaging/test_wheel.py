"""The core library ships with the package: a wheel built from the sdist, installed in a fresh venv,
runs the tiny-llama hardware flow from an unrelated folder (issue 15, item 1).

The venv reuses this environment's site-packages through a .pth line (torch, transformers, FuseSoC:
nothing is downloaded); mase itself and its cores come from the wheel only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what a source tree holds besides the package's inputs (copied into the sdist's build folder otherwise)
SKIP = shutil.ignore_patterns(".venv", ".git", "outputs", "multirun", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".hypothesis", "*.fst", "*.vcd")


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def build_wheel(tmp: Path) -> Path:
    """sdist from a copy of the source tree, then the wheel from the sdist (both must carry the cores)."""
    src, dist = tmp / "src", tmp / "dist"
    shutil.copytree(ROOT, src, symlinks=True, ignore=SKIP)
    sdist = _run([sys.executable, "-c", f"from setuptools import build_meta as b; print(b.build_sdist({str(dist)!r}))"],
                 cwd=src).stdout.split()[-1]
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "--no-cache-dir", "-w", dist, dist / sdist], cwd=tmp)
    (wheel,) = dist.glob("mase-*.whl")
    return wheel


def fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv holding mase from `wheel` only; its dependencies come from this environment."""
    venv = tmp / "venv"
    _run([sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    here = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    (site / "_mase_test_deps.pth").write_text("".join(p + "\n" for p in sorted(here)))
    _run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index", wheel])
    return venv


@pytest.mark.slow
def test_wheel_install_runs_the_hardware_flow(tmp_path):
    wheel = build_wheel(tmp_path)
    venv = fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MASE_CORES_DIR")}
    env["MASE_EAGER"] = "1"

    lib = Path(_run([venv / "bin/python", "-m", "mase.cores"], cwd=elsewhere, env=env).stdout.strip())
    assert lib.is_relative_to(venv) and (lib / "mx_linear" / "mx_linear.core").is_file(), lib
    where = _run([venv / "bin/python", "-c", "import mase; print(mase.__file__)"], cwd=elsewhere, env=env).stdout
    assert Path(where.strip()).is_relative_to(venv), where

    _run([venv / "bin/mase", "+model=tiny-llama", "quant=mxint4", "target=sim", "stages=[quantize,emit,lint,sim,hw_report]",
          "hw.sim_layers=1", "progress=false", "hydra.run.dir=run"], cwd=elsewhere, env=env, timeout=900)
    sim = json.loads((elsewhere / "run" / "hw" / "sim.json").read_text())
    assert sim["bit_exact"], sim
    assert json.loads((elsewhere / "run" / "hw" / "emit.json").read_text())["complete"]

    # an install without its cores: one line naming the fix, before any work
    shutil.rmtree(lib)
    res = subprocess.run([venv / "bin/mase", "+model=tiny-llama", "quant=mxint4", "target=sim", "stages=[quantize,emit]",
                          "hydra.run.dir=run2"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("mase: error: the mase:mx core library is missing") and "reinstall mase" in line, line
    assert not (elsewhere / "run2").exists()
