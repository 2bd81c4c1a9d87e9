"""Where the mase:mx core library (the SystemVerilog IP and its FuseSoC .core files) is installed.

The library ships inside the package as mase/cores/library (in the repository a link to the top-level
cores/, which FuseSoC users of a checkout keep using), so a wheel or sdist install carries it:

    fusesoc library add mase $(python -m mase.cores)

$MASE_CORES_DIR points mase at another copy (e.g. a checkout a hardware team edits).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "library"


def library_dir() -> Path:
    """The core library mase uses: $MASE_CORES_DIR, else the one installed with the package."""
    env = os.environ.get("MASE_CORES_DIR")
    return Path(env).resolve() if env else PACKAGED.resolve()


def require_library() -> Path:
    """The core library, or a one-line MaseError naming the fix when it holds no .core file (an
    install without its package data, a wrong $MASE_CORES_DIR): never "0 of N nodes mapped"."""
    d = library_dir()
    if d.is_dir() and next(d.glob("*/*.core"), None) is not None:
        return d
    from mase.errors import MaseError

    if os.environ.get("MASE_CORES_DIR"):
        raise MaseError(f"MASE_CORES_DIR={os.environ['MASE_CORES_DIR']} holds no mase:mx cores (*/*.core): "
                        "point it at mase's cores/ folder, or unset it to use the installed library")
    raise MaseError(f"the mase:mx core library is missing from this install ({d}): reinstall mase "
                    "(pip install --force-reinstall mase), or set MASE_CORES_DIR to a copy of mase's cores/")
