"""Yosys synthesis of a generated design: the whole top, or one run per distinct node configuration.

scope:
- "top":   synthesize the generated top level (all mapped nodes, FIFOs, converters) in one run;
- "nodes": synthesize each distinct (core, parameters) of the mapped nodes once and multiply by
           its count (how large designs such as smollm2-135m on the U250 are estimated);
- "auto":  "top" for designs of at most 80 mapped nodes, else "nodes".
Raw Yosys logs stay under the build folder; the summary is returned (and saved as hw/synth.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mase.errors import MaseError
from mase.eda.runner import EdaError, _tail, parse_yosys_stat, synth

from .tools import require

ARCH = {"ice40": "ice40", "virtexuplus": "xcup", "ultrascaleplus": "xcup", "ecp5": "ecp5"}
KEYS = ("LUT", "FF", "DSP", "BRAM", "URAM")


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
    if arch == "ecp5":
        raise MaseError(f"target {target.name}: the synth stage has no ECP5 resource parsing yet; the pnr stage "
                        f"synthesizes for ECP5 and reports nextpnr's utilisation (stages=[emit,pnr])")
    if scope == "auto":
        scope = "top" if man["nodes_mapped"] <= 80 else "nodes"
    try:
        if scope == "top":
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
        key = json.dumps([n["core"], sorted(p.items())])
        groups.setdefault(key, {"core": n["core"], "params": n["parameters"], "nodes": []})["nodes"].append(name)
    per_node, totals = {}, {k: 0.0 for k in KEYS}
    for i, (key, grp) in enumerate(sorted(groups.items())):
        params = dict(grp["params"])
        for k in ("W_FILE", "S_FILE", "B_FILE"):
            if k in params:
                params[k] = str((hw_dir / "mem" / params[k]).resolve())
        res = synth(grp["core"], params, arch=arch, keep=build_dir / f"n{i:03d}")
        res.pop("cells")
        r = {k: res.get(k, 0) for k in KEYS}
        for name in grp["nodes"]:
            per_node[name] = {**r, "source": "yosys", "representative": grp["nodes"][0]}
        for k in KEYS:
            totals[k] += r[k] * len(grp["nodes"])
    return {"scope": "nodes", "arch": arch, "resources": totals, "per_node": per_node, "runs": len(groups),
            "nodes": len(per_node)}
