"""Place and route with nextpnr through Edalize's icestorm / trellis flows (iCE40, ECP5).

The generated top has wide stream ports (it is an accelerator meant to sit behind a host
interface), so it is placed out of context (`--out-of-context`: no I/O pins); fmax comes from
nextpnr's timing report and the raw log is kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mase.config.errors import MaseError
from mase.eda.runner import EdaError, _tail, fusesoc

from . import require


def pnr_stage(hw_dir: Path, man: dict, target: Any, build_dir: Path) -> dict[str, Any]:
    fam = str(getattr(target, "family", ""))
    if fam == "ice40":
        require(["yosys", "nextpnr-ice40", "icepack"], target.name)
        tgt = "pnr_ice40"
    elif fam == "ecp5":
        require(["yosys", "nextpnr-ecp5", "ecppack"], target.name)
        raise MaseError(f"target {target.name}: the ECP5 place-and-route target is not generated yet")
    else:
        raise MaseError(f"target {target.name}: no nextpnr flow for family {fam!r}")
    log_path = build_dir / "fusesoc.log"
    try:
        out = fusesoc(["run", "--target", tgt, "--build-root", str(build_dir), man["core"]], [hw_dir], log=log_path)
    except EdaError as exc:
        raise MaseError(f"nextpnr failed: {str(exc).splitlines()[0]}\n{_tail(str(exc), 12)}") from None
    fmax = [float(m) for m in re.findall(r"Max frequency for clock\s+'[^']*':\s*([\d.]+) MHz", out)]
    return {"tool": "nextpnr-ice40", "fmax_mhz": fmax[-1] if fmax else None, "log": str(log_path),
            "summary": f"fmax {fmax[-1]:.1f} MHz" if fmax else "placed and routed"}
