"""FuseSoC/Edalize flows for the mase:mx cores (lint, Verilator simulation, Yosys synthesis).

    >>> from mase.eda import build_sim, lint, synth
    >>> lint("mase:mx:mx_linear")
    >>> sim = build_sim("mase:mx:stream", {"WIDTH": 8, "DEPTH": 4})
    >>> sim.run({"in": [1, 2, 3]}, {"out": 3}, stall=20, bp=20).outputs["out"]
    >>> synth("mase:mx:mx_linear", params, arch="ice40")   # {'LUT': .., 'FF': .., 'DSP': .., 'BRAM': ..}

mx_linear / mx_matmul parameters, ROM images and stream beats: `mase.eda.mx_linear`
(linear_params, write_linear_images, input_beats, weight_stream_beats, expected_output_beats).
Extra core libraries (e.g. a generated one): `roots=[...]` or $MASE_CORES_ROOTS.
"""

from .runner import (CORES_DIR, EdaError, SimBuild, SimResult, build_sim, cache_dir, cores_roots, fusesoc,
                     lint, pack_fields, parse_yosys_stat, read_hex, synth, unpack_fields, write_hex)

__all__ = ["CORES_DIR", "EdaError", "SimBuild", "SimResult", "build_sim", "cache_dir", "cores_roots", "fusesoc",
           "lint", "pack_fields", "parse_yosys_stat", "read_hex", "synth", "unpack_fields", "write_hex"]
