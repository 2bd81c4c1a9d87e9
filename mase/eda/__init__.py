"""Every EDA flow of mase, all through FuseSoC/Edalize (README.md in this folder).

The runner (`runner`) runs FuseSoC and the tools on any core (lint, Verilator simulation, Yosys
synthesis), checking every exit status. On a generated library, one module per toolchain (LiteX
style), each building under the run folder (`<run>/build/<flow>/`), keeping the raw tool reports and
returning a JSON-able summary:

    verilator: lint (verilator --lint-only -Wall), sim (build + run the self-checking testbench)
    yosys:     synth (synth_ice40 / synth_xilinx -family xcup -flatten) -> LUT/FF/DSP/BRAM
    nextpnr:   pnr for iCE40 (Debian nextpnr-ice40) and ECP5 (nextpnr-ecp5 or YoWASP)
    vivado:    the complete Vivado project through Edalize; built only where `vivado` is on PATH
    tools:     which tool, native or YoWASP; the fix when one is missing
    generator: the FuseSoC generator mase_accel (cores/generators)

On the library cores:

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
