"""The Vivado project of a generated design, through Edalize (Amaranth-style: generate here, build
wherever Vivado is installed). Without `vivado` on PATH the project files are generated and the
report says in one line that it was not built."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mase.errors import MaseError
from mase.eda.runner import EdaError, _tail, fusesoc

from .tools import which


def project(hw_dir: Path, man: dict, build_dir: Path) -> dict[str, Any]:
    have = which("vivado") is not None
    args = ["run", "--target", "vivado", "--build-root", str(build_dir), "--setup"]
    if have:
        args += ["--build"]
    try:
        fusesoc(args + [man["core"]], [hw_dir], log=build_dir / "fusesoc.log")
    except EdaError as exc:
        raise MaseError(f"vivado flow failed: {str(exc).splitlines()[0]}\n{_tail(str(exc), 12)}") from None
    work = sorted(build_dir.glob("*/vivado-vivado"))
    # FuseSoC can exit 0 without a project (interrupted): the project script must exist, and after a
    # build the bitstream
    if not work or not list(work[0].glob("*.tcl")):
        raise MaseError(f"vivado flow: FuseSoC wrote no Vivado project under {build_dir} (see {build_dir / 'fusesoc.log'})")
    if have and not list(work[0].glob("*.bit")):
        raise MaseError(f"vivado flow: Vivado exited 0 but wrote no bitstream in {work[0]} (see its vivado.log)")
    files = sorted(str(p.relative_to(build_dir)) for p in work[0].glob("*") if p.is_file()) if work else []
    res: dict[str, Any] = {"tool": "vivado", "project_dir": str(work[0]) if work else None, "files": files,
                           "built": have}
    if not have:
        res["summary"] = "Vivado project generated, not built: vivado is not on PATH (estimates used)"
        res["skipped"] = res["summary"]
    else:
        rpt = list(work[0].glob("**/*timing_summary*.rpt"))
        if rpt:
            m = re.search(r"WNS\(ns\).*?\n.*?\n\s*(-?[\d.]+)", rpt[0].read_text())
            res["wns_ns"] = float(m.group(1)) if m else None
        res["summary"] = "Vivado build done"
    return res
