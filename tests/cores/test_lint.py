"""Every .core in cores/ with a lint target lints clean (verilator --lint-only -Wall), and cores/
works as a FuseSoC library."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mase.eda import CORES_DIR, lint


def _cores_with_lint():
    out = []
    for f in sorted(CORES_DIR.rglob("*.core")):
        text = f.read_text()
        m = re.search(r"^name:\s*(\S+)", text, re.M)
        if m and re.search(r"^  lint:", text, re.M):
            out.append(m.group(1).rsplit(":", 1)[0] if m.group(1).count(":") == 3 else m.group(1))
    return out


@pytest.mark.parametrize("core", _cores_with_lint())
def test_core_lints_clean(core):
    lint(core)


def test_fusesoc_library(tmp_path):
    """`fusesoc library add mase <cores>` in a fresh config lists the mase:mx cores."""
    exe = Path(sys.executable).with_name("fusesoc")
    conf = tmp_path / "fusesoc.conf"
    run = lambda *a: subprocess.run([str(exe), "--config", str(conf), *a], cwd=tmp_path, capture_output=True,
                                    text=True, check=True).stdout
    run("library", "add", "mase", str(CORES_DIR))
    listing = run("core", "list")
    for name in ("mase:mx:mx_linear", "mase:mx:mx_quantize", "mase:mx:stream"):
        assert name in listing
