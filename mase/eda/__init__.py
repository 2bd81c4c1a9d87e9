"""FuseSoC/Edalize flows for the mase:mx cores (lint, Verilator simulation, Yosys synthesis).

    >>> from mase.eda import build_sim, lint, synth
    >>> lint("mase:mx:mx_linear")
    >>> sim = build_sim("mase:mx:stream", {"WIDTH": 8, "DEPTH": 4})
    >>> sim.run({"in": [1, 2, 3]}, {"out": 3}, stall=20, bp=20).outputs["out"]
    >>> synth("mase:mx:mx_linear", params, arch="ice40")   # {'LUT': .., 'FF': .., 'DSP': .., 'BRAM': ..}
"""

from .runner import (CORES_DIR, EdaError, SimBuild, SimResult, build_sim, cache_dir, cores_roots, fusesoc,
                     lint, pack_fields, parse_yosys_stat, read_hex, synth, unpack_fields, write_hex)

__all__ = ["CORES_DIR", "EdaError", "SimBuild", "SimResult", "build_sim", "cache_dir", "cores_roots", "fusesoc",
           "lint", "pack_fields", "parse_yosys_stat", "read_hex", "synth", "unpack_fields", "write_hex"]
