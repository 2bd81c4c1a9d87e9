"""`python -m mase.cores` prints the core library; a wrong $MASE_CORES_DIR is one line naming the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mase.eda import CORES_DIR


def _cores(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MASE_CORES_DIR"} | env_extra
    return subprocess.run([sys.executable, "-m", "mase.cores"], capture_output=True, text=True, env=env)


def test_prints_the_library_fusesoc_adds():
    res = _cores({})
    assert res.returncode == 0, res.stderr
    lib = Path(res.stdout.strip())
    assert lib == CORES_DIR and (lib / "stream" / "stream.core").is_file()


def test_wrong_cores_dir_is_one_line(tmp_path):
    res = _cores({"MASE_CORES_DIR": str(tmp_path)})
    assert res.returncode == 2 and res.stdout == ""
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"mase: error: MASE_CORES_DIR={tmp_path} holds no mase:mx cores") and "unset it" in line
