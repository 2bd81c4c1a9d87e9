"""`mase --version` prints mase's version (Hydra's own flag printed only Hydra's)."""

import subprocess
import sys

import mase


def test_version():
    res = subprocess.run([sys.executable, "-m", "mase.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith(f"mase {mase.__version__} (Hydra "), res.stdout + res.stderr
