"""Every .core in cores/ with a lint target lints clean (verilator --lint-only -Wall), and cores/
works as a FuseSoC library."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mase.eda import CORES_DIR, lint


def _cores():
    """name (without version) -> parsed .core of every core in cores/."""
    out = {}
    for f in sorted(CORES_DIR.rglob("*.core")):
        text = f.read_text()
        if not text.startswith("CAPI=2:"):
            continue
        d = yaml.load(text.split("\n", 1)[1], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        name = d.get("name", "")
        out[name.rsplit(":", 1)[0] if name.count(":") == 3 else name] = d
    return out


def _cores_with_lint():
    return [n for n, d in _cores().items() if "lint" in (d.get("targets") or {})]


def test_every_rtl_core_has_a_lint_target():
    """Every mase:mx core with SystemVerilog files (testbench helpers and glue included) lints."""
    rtl = [n for n, d in _cores().items()
           if any(fs.get("file_type") == "systemVerilogSource" for fs in (d.get("filesets") or {}).values())]
    assert {"mase:mx:tb", "mase:mx:glue", "mase:mx:stream"} <= set(rtl)
    linted = set(_cores_with_lint())
    assert [n for n in rtl if n not in linted] == []


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
