"""Yosys synthesis of a generated design: the whole top, or one run per distinct node configuration.

scope:
- "top":   synthesize the generated top level (all mapped nodes, FIFOs, converters) in one run;
- "nodes": synthesize each distinct (core, parameters) of the mapped nodes once and multiply by
           its count (how large designs such as smollm2-135m on the U250 are estimated);
- "auto":  "top" for designs of at most 80 mapped nodes, else "nodes".
Raw Yosys logs stay under the build folder; the summary is returned (and saved as hw/synth.json).
Architectures: ice40 (synth_ice40), xcup (synth_xilinx -family xcup -flatten), ecp5 (synth_ecp5). A node is
synthesized as its own module (`synth_unit`: a generated wrapper core, so mase:mx:glue's
mase_attn_matmul is synthesized as itself, not as the mx_matmul core it wraps).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from mase.errors import MaseError
from mase.eda.runner import (EdaError, _content_hash, _core_index, _patch_yosys_tcl, _tail, _work_root,
                             cache_dir, fusesoc, locked, parse_yosys_stat, run_yosys_make, stat_cells, synth)

from .tools import require

ARCH = {"ice40": "ice40", "virtexuplus": "xcup", "ultrascaleplus": "xcup", "ecp5": "ecp5"}
KEYS = ("LUT", "FF", "DSP", "BRAM", "URAM")

# Yosys `synth_<arch>` per architecture of `synth_unit` (Edalize's yosys tool: arch, synth options)
# synth_xilinx keeps the hierarchy unless told (synth_ice40 and synth_ecp5 flatten by default), and then
# cannot fold a constant that crosses a module port: fixed8's constant scales left a whole aligner and
# quantizer in mx_linear (1451 LUT, 1150 flattened). Vivado flattens too (flatten_hierarchy rebuilt).
SYNTH_ARCH = {"ice40": ("ice40", []), "xcup": ("xilinx", ["-family xcup", "-flatten"]), "ecp5": ("ecp5", [])}
# Verilog defines of the cores' synthesis targets per architecture: UltraScale+ packs two narrow products
# per DSP48E2 (mx_dot_lane, mx_linear's synth_xcup); the iCE40 keeps products in LUTs, so mx_mul_pipe
# cuts its operands into 6-bit chunks (7x7 LUT products), as the iCE40 place-and-route flow does
# (mase.eda.nextpnr.PNR_DEFINES takes this entry: synthesis and P&R count the same netlist)
SYNTH_DEFINES = {"xcup": {"MASE_DSP_PACK": 1}, "ice40": {"MASE_MUL_CHUNK": 6}}
# ECP5 cells (synth_ecp5) -> resources: LUT counts LUT4s, a CCU2C carry cell as its two LUT4s (as
# nextpnr packs it) and a TRELLIS_DPR16X4 LUT RAM as the 4 LUT4s of its slice pair (LUTRAM apart too);
# BRAM in 18 Kbit DP16KD blocks; DSP in MULT18X18D (ALU54B apart)
_ECP5 = {"LUT4": ("LUT", 1), "CCU2C": ("LUT", 2), "TRELLIS_DPR16X4": ("LUT", 4), "TRELLIS_FF": ("FF", 1),
         "MULT18X18D": ("DSP", 1), "DP16KD": ("BRAM", 1)}


def parse_stat(log: str, arch: str) -> dict[str, Any]:
    """Resources of the last `stat` of a Yosys log for `arch` (ice40, xcup: runner.parse_yosys_stat)."""
    if arch != "ecp5":
        return parse_yosys_stat(log, arch)
    cells = stat_cells(log)
    if cells is None:
        raise EdaError("no `stat` output in the Yosys log")
    res: dict[str, Any] = {k: 0 for k in KEYS}
    for c, n in cells.items():
        if c in _ECP5:
            k, w = _ECP5[c]
            res[k] += n * w
    res.update({"LUT4": cells.get("LUT4", 0), "CARRY": cells.get("CCU2C", 0), "LUTRAM": cells.get("TRELLIS_DPR16X4", 0),
                "ALU": cells.get("ALU54B", 0), "cells": cells})
    return res


def _module_core(module: str, roots: list[Path] | None = None) -> str | None:
    """The VLNV (without version) of the library core whose folder holds `<module>.sv`."""
    for name, f in _core_index(roots).items():
        if (f.parent / "rtl" / f"{module}.sv").is_file() or (f.parent / f"{module}.sv").is_file():
            return name
    return None


def synth_unit(core: str, module: str, params: dict | None, arch: str, keep: Path | None = None,
               roots: list[Path] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Yosys `synth_<arch>` (ice40, xcup, ecp5) of `module` with `params`, through a generated wrapper
    core that depends on `core` (and on the library core holding `module`, e.g. mase:mx:glue's
    mase_attn_matmul); `params` values that are str are file names (ROM images). The raw log stays
    under `keep` (default: the EDA cache, keyed by the sources and parameters).
    Returns {'LUT', 'FF', 'DSP', 'BRAM', 'URAM', ..., 'cells', 'log', 'seconds'}."""
    if arch not in SYNTH_ARCH:
        raise ValueError(f"arch {arch!r}: choose {', '.join(SYNTH_ARCH)}")
    params = dict(params or {})
    deps = [core.rsplit(":", 1)[0] if core.count(":") == 3 else core]
    home = _module_core(module, roots)
    if home and home not in deps:
        deps.append(home)
    key = hashlib.sha256(json.dumps([deps, module, arch, sorted(params.items()), SYNTH_DEFINES.get(arch),
                                     [_content_hash(roots, d) for d in deps]], default=str).encode()).hexdigest()[:16]
    unit = f"{module}_{arch}_{key}"
    unit_dir = Path(keep) if keep else cache_dir() / f"synth-{unit}"
    tool, opts = SYNTH_ARCH[arch]
    y = ["CAPI=2:", f"# Generated by mase: Yosys synth_{tool} of {module}", f"name: mase:synth:{unit}:0",
         "filesets:", "  top:", f"    depend: [{', '.join(json.dumps(d) for d in deps)}]",
         "targets:", "  default:", "    filesets: [top]",
         "  synth:", "    default_tool: yosys", "    filesets: [top]", f"    toplevel: {module}"]
    defines = SYNTH_DEFINES.get(arch, {})
    if params or defines:
        y.append(f"    parameters: [{', '.join([*params, *(f'{d}={v}' for d, v in defines.items())])}]")
    y += ["    tools:", "      yosys:", f"        arch: {tool}", "        output_format: json"]
    if opts:
        y.append(f"        yosys_synth_options: [{', '.join(opts)}]")
    if params or defines:
        y.append("parameters:")
        y += [f"  {p}: {{datatype: {'str' if isinstance(v, str) else 'int'}, paramtype: vlogparam}}"
              for p, v in params.items()]
        y += [f"  {d}: {{datatype: int, paramtype: vlogdefine}}" for d in defines]
    t0 = time.perf_counter()
    with locked(unit_dir.with_name(unit_dir.name + ".lock")):
        shutil.rmtree(unit_dir, ignore_errors=True)
        (unit_dir / "core").mkdir(parents=True)
        (unit_dir / "core" / "synth.core").write_text("\n".join(y) + "\n")
        build = unit_dir / "build"
        fusesoc(["run", "--target", "synth", "--build-root", str(build), "--setup", f"mase:synth:{unit}:0",
                 *[f"--{k}={v}" for k, v in params.items()]], list(roots or []) + [unit_dir / "core"],
                timeout=timeout, log=unit_dir / "setup.log")
        work = _work_root(build, "synth", "yosys")
        _patch_yosys_tcl(work)
        log_path, log = run_yosys_make(work, timeout, f"Yosys synth_{tool} of {module}", unit_dir / "build.log")
    res = parse_stat(log, arch)
    res["log"] = str(log_path)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def arch_of(target: Any) -> str | None:
    return ARCH.get(str(getattr(target, "family", "") or ""))


def _node_params(hw_dir: Path) -> dict[str, Any]:
    return json.loads((hw_dir / "params.json").read_text())["nodes"]


def synth_stage(hw_dir: Path, man: dict, target: Any, build_dir: Path, scope: str = "auto") -> dict[str, Any]:
    if getattr(target, "kind", "sim") == "sim":
        return {"skipped": "target sim: no synthesis (choose target=ice40-up5k, ecp5-85k or u250)"}
    arch = arch_of(target)
    if arch is None:
        raise MaseError(f"target {target.name}: family {target.family!r} has no Yosys flow (ice40, ecp5, virtexuplus)")
    require(["yosys"], target.name)
    if scope == "auto":
        scope = "top" if man["nodes_mapped"] <= 80 else "nodes"
    try:
        if scope == "top":
            if arch == "ecp5":  # the generated core has no ECP5 target: a wrapper core runs synth_ecp5
                res = synth_unit(man["core"], man.get("top", "mase_top"), None, arch, keep=build_dir / "top",
                                 roots=[hw_dir])
            else:
                res = synth(man["core"], None, arch=arch, roots=[hw_dir], keep=build_dir / "top")
            cells = res.pop("cells")
            return {"scope": "top", "arch": arch, "resources": {k: res.get(k, 0) for k in KEYS},
                    "log": res["log"], "cells": len(cells), "nodes": man["nodes_mapped"]}
        return _per_node(hw_dir, man, arch, build_dir)
    except EdaError as exc:
        raise MaseError(f"yosys synthesis failed ({arch}): {str(exc).splitlines()[0]}\n{_tail(str(exc), 12)}") from None


def _per_node(hw_dir: Path, man: dict, arch: str, build_dir: Path) -> dict[str, Any]:
    nodes = _node_params(hw_dir)
    groups: dict[str, dict] = {}
    for name, n in nodes.items():
        p = dict(n["parameters"])
        for k in ("W_FILE", "S_FILE", "B_FILE"):
            p.pop(k, None)
        key = json.dumps([n["core"], n.get("module"), sorted(p.items())])
        groups.setdefault(key, {"core": n["core"], "module": n.get("module"), "params": n["parameters"],
                                "nodes": []})["nodes"].append(name)
    per_node, totals = {}, {k: 0.0 for k in KEYS}
    for i, (key, grp) in enumerate(sorted(groups.items())):
        params = dict(grp["params"])
        for k in ("W_FILE", "S_FILE", "B_FILE"):
            if k in params:
                params[k] = str((hw_dir / "mem" / params[k]).resolve())
        # the node's module (e.g. mase_attn_matmul of mase:mx:glue around mx_matmul), not the core's top
        res = synth_unit(grp["core"], grp["module"] or grp["core"].split(":")[2], params, arch,
                         keep=build_dir / f"n{i:03d}")
        res.pop("cells")
        r = {k: res.get(k, 0) for k in KEYS}
        for name in grp["nodes"]:
            per_node[name] = {**r, "source": "yosys", "representative": grp["nodes"][0]}
        for k in KEYS:
            totals[k] += r[k] * len(grp["nodes"])
    return {"scope": "nodes", "arch": arch, "resources": totals, "per_node": per_node, "runs": len(groups),
            "nodes": len(per_node)}
