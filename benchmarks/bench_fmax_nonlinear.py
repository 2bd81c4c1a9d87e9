"""fmax of the non-linear and element-wise cores (and mx_dequantize) at the parameters the compiler
generates, placed and routed alone with nextpnr (mase.eda.nextpnr.place_unit): out of context on the
ECP5-85 (the target's speed grade), in the shift-register harness on the iCE40UP5K.

    python benchmarks/bench_fmax_nonlinear.py                              # tiny-llama mxint4, ECP5
    python benchmarks/bench_fmax_nonlinear.py --arch ice40 --only mx_swiglu mx_residual_add
    python benchmarks/bench_fmax_nonlinear.py --hw <run>/hw --out /tmp/fmax   # another run's nodes

Without --hw it emits `+model=<model> quant=<quant> target=ecp5-85k stages=[quantize,emit]` into
`<out>/emit`. Each distinct (module, parameters) of the run's nodes whose module is one of ours is
placed once; the table gives fmax and nextpnr's critical path (first and last cell of the worst path,
and its number of logic levels). Run it alone: one Yosys/nextpnr job at a time.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

MODULES = ("mx_rmsnorm", "mx_layernorm", "mx_softmax", "mx_swiglu", "mx_activation", "mx_rope",
           "mx_residual_add", "mx_dequantize")
TARGETS = {
    "ecp5": SimpleNamespace(name="ecp5-85k", family="ecp5", part="LFE5U-85F-6BG381C", package="CABGA381"),
    "ice40": SimpleNamespace(name="ice40-up5k", family="ice40", part="iCE40UP5K", package="sg48"),
}
GOAL = {"ecp5": 100.0, "ice40": 40.0}


def groups(hw: Path, only: tuple[str, ...]) -> list[dict]:
    nodes = json.loads((hw / "params.json").read_text())["nodes"]
    seen: dict[str, dict] = {}
    for name, n in nodes.items():
        if n["module"] not in only:
            continue
        key = json.dumps([n["module"], sorted(n["parameters"].items())])
        seen.setdefault(key, {"core": n["core"], "module": n["module"], "params": n["parameters"], "nodes": []})
        seen[key]["nodes"].append(name)
    return list(seen.values())


def critical_path(log: Path) -> dict:
    """The worst path of nextpnr's last 'Critical path report' (post-route): its first and last cell,
    logic levels, logic/routing ns and the RTL lines it passes (`Defined in`, library cells left out)."""
    text = log.read_text() if log.is_file() else ""
    blocks = text.split("Critical path report for clock")
    if len(blocks) < 2:
        return {}
    block = blocks[-1].split("\n\n")[0]
    src = re.findall(r"Source\s+(\S+)", block)
    logic = [float(x) for x in re.findall(r"Info:\s+logic\s+([\d.]+)", block)]
    if not logic:  # nextpnr-ice40 (Debian's): one "Source <cell>.<port>" line per cell; carries apart
        logic = [0.0 for c in src[1:] if not c.endswith(("COUT", "$CARRY.COUT"))]
    split = re.search(r"([\d.]+) ns logic, ([\d.]+) ns routing", block)
    lines = []
    for f in re.findall(r"Info:\s+(\S+\.sv:\d+)", block):
        f = f.split("/rtl/")[-1]
        if f not in lines:
            lines.append(f)
    return {"from": src[0] if src else "?", "to": src[-1] if src else "?", "levels": len(logic),
            "carries": sum(c.endswith("COUT") for c in src),
            "logic_ns": float(split.group(1)) if split else None, "routing_ns": float(split.group(2)) if split else None,
            "rtl": lines}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", type=Path, help="a run's hw/ folder (default: emit --model/--quant)")
    ap.add_argument("--model", default="tiny-llama")
    ap.add_argument("--quant", default="mxint4")
    ap.add_argument("--arch", choices=sorted(TARGETS), default="ecp5")
    ap.add_argument("--only", nargs="*", default=list(MODULES), help="modules to place")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mase_fmax_nonlinear")
    ap.add_argument("--json", type=Path, help="write the rows here")
    a = ap.parse_args(argv)
    from mase.eda.nextpnr import place_unit

    a.out.mkdir(parents=True, exist_ok=True)
    hw = a.hw
    if hw is None:
        run = a.out / f"emit-{a.model}-{a.quant}"
        if not (run / "hw" / "params.json").is_file():
            subprocess.run([sys.executable, "-m", "mase.cli", f"+model={a.model}", f"quant={a.quant}", "target=ecp5-85k",
                            "stages=[quantize,emit]", f"hydra.run.dir={run}"], check=True, cwd=a.out)
        hw = run / "hw"
    target = TARGETS[a.arch]
    rows = []
    print(f"| module | nodes | params | fmax {a.arch} (MHz) | >= {GOAL[a.arch]:g} | critical path (from -> to, levels) |")
    print("|---|---|---|---|---|---|")
    for i, g in enumerate(groups(hw, tuple(a.only))):
        unit = f"{a.arch}_{i:02d}_{g['module']}"
        res = place_unit(a.out / unit, unit, g["core"], g["module"], g["params"], target, GOAL[a.arch], [])
        cp = critical_path(Path(res["logs"]["nextpnr"]))
        ps = ", ".join(f"{k}={v}" for k, v in g["params"].items() if k not in ("FREQS",))
        row = {"module": g["module"], "nodes": g["nodes"], "params": g["params"], "fmax_mhz": res["fmax_mhz"],
               "critical_path": cp, "utilisation": res["utilisation"], "unit": str(a.out / unit)}
        rows.append(row)
        print(f"| {g['module']} | {len(g['nodes'])} | {ps} | {res['fmax_mhz']:.1f} | "
              f"{'yes' if res['fmax_mhz'] >= GOAL[a.arch] else 'NO'} | {cp.get('from')} -> {cp.get('to')} "
              f"({cp.get('levels')} levels, {cp.get('carries')} carries; {', '.join(cp.get('rtl', [])[:4])}) |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
