"""Re-fit the compiler's analytical resource model (mase/compiler/resources.py) on Yosys figures.

    python benchmarks/bench_resource_model.py --out /tmp/rm            # emit, synthesize, fit, table
    python benchmarks/bench_resource_model.py --out /tmp/rm --no-synth # table/fit from the cache only
    python benchmarks/bench_resource_model.py --out /tmp/rm --write-data tests/compiler/data/resource_model.json

1. emits tiny-llama and tiny-opt in several formats (`mase ... stages=[quantize,emit]`, one run folder
   per model and format under <out>/runs; an existing run is reused);
2. synthesizes every distinct node configuration (core, module, parameters without ROM images) once
   per architecture with Yosys (`mase.eda.yosys.synth_unit`: synth_ecp5 and synth_xilinx -family
   xcup), smallest first (by the current estimate), cached in <out>/yosys.json under a key that holds
   the core sources' hash (an RTL change re-synthesizes); --budget stops starting new runs after
   that many minutes (the table then says what was not measured);
3. fits the coefficients of each core's functional form (mase.compiler.resources.FEATURES: lanes,
   element / accumulator widths, format kind, memory bits) by least squares on relative error and
   prints them as the Python table to paste into mase/compiler/resources.py (--fit);
4. prints, per node configuration and architecture, the compiler's estimate (the constants in
   resources.py), Yosys and the error, and the worst error per resource.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mase.compiler import resources as rm
from mase.cores import library_dir
from mase.eda.runner import EdaError
from mase.eda.yosys import SYNTH_ARCH, synth_unit

MODELS = ("tiny-llama", "tiny-opt")
FORMATS = ("mxint4", "mxint8", "mxfp4", "fixed8")
ARCHS = ("ecp5", "xcup")
FILE_PARAMS = ("W_FILE", "S_FILE", "B_FILE")
KEYS = ("lut", "ff", "dsp", "bram")
YKEY = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram": "BRAM"}


def emit(out: Path, model: str, fmt: str) -> Path:
    run = out / "runs" / f"{model}-{fmt}"
    if not (run / "hw" / "params.json").is_file():
        cmd = ["mase", f"+model={model}", f"quant={fmt}", "target=sim", "stages=[quantize,emit]",
               f"hydra.run.dir={run}"]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=out, stdout=subprocess.DEVNULL)
    return run / "hw"


def configs(out: Path, models, formats) -> dict[str, dict]:
    """Distinct node configurations over the runs: key -> {core, module, params, nodes: [(run, node)]}."""
    groups: dict[str, dict] = {}
    for model in models:
        for fmt in formats:
            hw = emit(out, model, fmt)
            pj = json.loads((hw / "params.json").read_text())
            for name, n in pj["nodes"].items():
                p = {k: v for k, v in n["parameters"].items() if k not in FILE_PARAMS}
                key = json.dumps([n["core"], n["module"], sorted(p.items())])
                g = groups.setdefault(key, {"core": n["core"], "module": n["module"], "params": p, "nodes": [],
                                            "files": {k: str((hw / "mem" / v).resolve())
                                                      for k, v in n["parameters"].items() if k in FILE_PARAMS}})
                g["nodes"].append(f"{model}-{fmt}:{name}")
                g.setdefault("size", pj["plan"]["nodes"].get(name, {}).get("lut", 0))  # the plan's LUTs: an order
    return groups


CONSTANTS = ("ACC_LSB", "IN_LSB", "OUT_LSB", "EPS_CODE", "LOG2E_Q", "FREQS", "G_F")


def shape_key(arch: str, g: dict) -> str:
    """A configuration without its constant-valued parameters (binary points, epsilon, tables)."""
    return json.dumps([arch, g["core"], g["module"], sorted((k, v) for k, v in g["params"].items() if k not in CONSTANTS)])


_MODS: dict = {}


def _modules(lib: Path) -> dict[str, Path]:
    """module name -> .sv file of the core library (cached per library folder)."""
    if lib not in _MODS:
        mods = {}
        for f in sorted(lib.rglob("*.sv")):
            if "/tb/" in str(f) or "/wrap/" in str(f):
                continue
            for m in re.finditer(r"^\s*module\s+(\w+)", f.read_text(errors="replace"), re.M):
                mods.setdefault(m.group(1), f)
        _MODS[lib] = mods
    return _MODS[lib]


def rtl_hash(core: str, module: str) -> str:
    """Hash of the SystemVerilog files reachable from `module` through instantiations (a change to a
    file the configuration does not use keeps its cached figures)."""
    lib = library_dir()
    mods = _modules(lib)
    todo, seen = [module], set()
    while todo:
        m = todo.pop()
        if m in seen or m not in mods:
            continue
        seen.add(m)
        text = mods[m].read_text(errors="replace")
        todo += [n for n in mods if n not in seen and re.search(rf"\b{n}\s*(#|\w+\s*\()", text)]
    h = hashlib.sha256()
    for f in sorted({mods[m] for m in seen}):
        h.update(str(f.relative_to(lib)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def cache_key(arch: str, key: str, h: str) -> str:
    """The Yosys cache's key: architecture, configuration, RTL hash and, when there are any, the synthesis
    options (synth_xilinx flattens since 57bfd56: figures taken with the hierarchy kept must not match)."""
    opts = " ".join(SYNTH_ARCH[arch][1])
    return json.dumps([arch, key, h] + ([opts] if opts else []))


def head_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except OSError:
        return "?"


def synthesize(out: Path, groups: dict, archs, budget_min: float, only: str | None) -> dict:
    cache_f = out / "yosys.json"
    cache = json.loads(cache_f.read_text()) if cache_f.is_file() else {}
    t_start = time.time()
    todo = []
    measured = {shape_key(arch, groups[k]) for ck in cache for arch, k, h, *_ in [json.loads(ck)]
                if k in groups and ck == cache_key(arch, k, rtl_hash(groups[k]["core"], groups[k]["module"]))}
    for key, g in groups.items():
        if only and only not in g["core"] and only not in g["module"]:
            continue
        h = rtl_hash(g["core"], g["module"])
        for arch in archs:
            ck = cache_key(arch, key, h)
            if ck not in cache:
                # element-wise cores first, then the linear layers / attention products of mxint4, then
                # of the other formats; smallest first within each
                dot = rm.kind_of(g["core"], g["module"]) in ("linear", "attn_matmul")
                first = any("-mxint4:" in n for n in g["nodes"])
                todo.append(((0 if not dot else 1 if first else 2), g["size"], arch, key, ck))
    todo.sort()
    # configurations that differ from another only in constants (ACC_LSB, IN_LSB, ...) last
    seen, ordered, later = set(measured), [], []
    for t in todo:
        sk = shape_key(t[2], groups[t[3]])
        (later if sk in seen else ordered).append(t)
        seen.add(sk)
    todo = ordered + later
    print(f"{len(todo)} Yosys runs to do ({len(cache)} cached)", flush=True)
    commit = os.environ.get("MASE_BENCH_COMMIT") or head_commit()  # the commit the core library comes from
    for i, (_, _, arch, key, ck) in enumerate(todo):
        if budget_min and time.time() - t_start > budget_min * 60:
            print(f"budget of {budget_min} min spent: {len(todo) - i} runs not started", flush=True)
            break
        g = groups[key]
        try:
            r = synth_unit(g["core"], g["module"], {**g["params"], **g["files"]}, arch, keep=out / "build" / "unit")
        except EdaError as exc:
            print(f"  FAILED {arch} {g['module']}: {str(exc).splitlines()[0]}", flush=True)
            continue
        r.pop("log", None)
        r["commit"] = commit
        cache[ck] = r
        cache_f.write_text(json.dumps(cache, indent=0, sort_keys=True))
        print(f"  [{i + 1}/{len(todo)}] {arch} {g['module']} ({len(g['nodes'])} nodes): LUT {r['LUT']} FF {r['FF']} "
              f"DSP {r['DSP']} BRAM {r['BRAM']} in {r['seconds']} s", flush=True)
    return cache


def rows(groups: dict, cache: dict, archs) -> list[dict]:
    out = []
    for key, g in groups.items():
        h = rtl_hash(g["core"], g["module"])
        for arch in archs:
            r = cache.get(cache_key(arch, key, h))
            out.append({"arch": arch, "core": g["core"], "module": g["module"], "params": g["params"],
                        "nodes": g["nodes"], "yosys": None if r is None else {k: float(r[YKEY[k]]) for k in KEYS},
                        "commit": None if r is None else r.get("commit")})
    return out


def fit(data: list[dict]) -> dict:
    """Least squares on relative error of each (family, core kind, resource) over its features."""
    coef: dict = {}
    by: dict = {}
    for d in data:
        if d["yosys"] is None:
            continue
        kind = rm.kind_of(d["core"], d["module"])
        by.setdefault((d["arch"], kind), []).append(d)
    for (arch, kind), ds in sorted(by.items()):
        for res in KEYS:
            names = rm.FEATURES[kind][res]
            if not names:
                continue
            X = np.array([rm.features(kind, d["params"], res, arch) for d in ds], dtype=float)
            y = np.array([d["yosys"][res] for d in ds], dtype=float)
            sol = minimax(X, y, np.maximum(y, rm.ABS_TOL[res] * 2))
            coef.setdefault(arch, {}).setdefault(kind, {})[res] = [round(float(c), 4) for c in sol]
    return coef


def minimax(X: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Coefficients c minimizing the largest relative error max_i |X_i c - y_i| / s_i (a linear
    program), with a small L1 penalty that keeps features the data cannot separate at zero."""
    from scipy.optimize import linprog

    n, m = X.shape
    scale = np.maximum(np.abs(X).mean(axis=0), 1e-9)
    # variables: c (m, free), u (m, >= |c|), t (1)
    cost = np.concatenate([np.zeros(m), 1e-4 * scale / max(float(np.abs(y).mean()), 1.0), [1.0]])
    A, b = [], []
    for i in range(n):
        A.append(np.concatenate([X[i], np.zeros(m), [-s[i]]]))
        b.append(y[i])
        A.append(np.concatenate([-X[i], np.zeros(m), [-s[i]]]))
        b.append(-y[i])
    for j in range(m):
        e = np.zeros(m)
        e[j] = 1
        A.append(np.concatenate([e, -e, [0]]))
        b.append(0)
        A.append(np.concatenate([-e, -e, [0]]))
        b.append(0)
    bounds = [(None, None)] * m + [(0, None)] * m + [(0, None)]
    r = linprog(cost, A_ub=np.array(A), b_ub=np.array(b), bounds=bounds, method="highs")
    if not r.success:
        sol, *_ = np.linalg.lstsq(X / s[:, None], y / s, rcond=None)
        return sol
    return r.x[:m]


def write_coef(coef: dict, data: list[dict]) -> None:
    """Replace the COEF block of mase/compiler/resources.py (between its BEGIN/END COEF markers)."""
    f = Path(rm.__file__)
    text = f.read_text()
    a, b = text.index("# BEGIN COEF"), text.index("# END COEF")
    commits = sorted({d["commit"] for d in data if d.get("commit")})
    n = sum(1 for d in data if d["yosys"] is not None)
    lines = ["# BEGIN COEF (written by benchmarks/bench_resource_model.py --write-coef; do not edit by hand)",
             f"# fitted {time.strftime('%Y-%m-%d')} on {n} Yosys 0.23 runs (configuration x architecture) of the cores",
             f"# at commit(s) {', '.join(commits)}; one coefficient per feature of FEATURES[kind][resource]",
             "COEF: dict[str, dict[str, dict[str, list[float]]]] = {"]
    for fam in sorted(coef):
        lines.append(f"    {fam!r}: {{")
        for kind in sorted(coef[fam]):
            lines.append(f"        {kind!r}: {{" + ", ".join(f"{r!r}: {coef[fam][kind][r]}" for r in KEYS
                                                    if r in coef[fam][kind]) + "},")
        lines.append("    },")
    lines.append("}\n")
    f.write_text(text[:a] + "\n".join(lines) + text[b:])
    print(f"wrote the COEF table of {f}")


def table(data: list[dict], coef: dict | None) -> dict:
    worst: dict = {}
    print(f"\n{'arch':5} {'module':18} {'nodes':>5} {'key parameters':44} " + " ".join(
        f"{k + ' est/yosys (err%)':>24}" for k in KEYS))
    missing = []
    for d in sorted(data, key=lambda d: (d["arch"], d["module"], json.dumps(d["params"]))):
        if d["yosys"] is None:
            missing.append(d)
            continue
        est = rm.estimate(d["core"], d["module"], d["params"], d["arch"], coef)
        cells = []
        for k in KEYS:
            e, y = est[k], d["yosys"][k]
            err = 100 * (e - y) / y if y else (0.0 if abs(e) < 0.5 else float("inf"))
            ok = abs(err) <= 15 or abs(e - y) <= rm.ABS_TOL[k]
            w = worst.setdefault((d["arch"], k), (0, None))
            if not (abs(e - y) <= rm.ABS_TOL[k]) and abs(err) > w[0]:
                worst[(d["arch"], k)] = (abs(err), d["module"])
            cells.append(f"{e:9.1f}/{y:8.1f} ({err:+5.0f}%){' ' if ok else '!'}")
        print(f"{d['arch']:5} {d['module']:18} {len(d['nodes']):5d} {rm.describe(d['core'], d['module'], d['params']):44} "
              + " ".join(cells))
    print("\nworst error (beyond the absolute tolerance " + ", ".join(f"{k} {v}" for k, v in rm.ABS_TOL.items()) + "):")
    for (arch, k), (err, mod) in sorted(worst.items()):
        print(f"  {arch:5} {k:5} {err:6.1f}%  {mod or ''}")
    if missing:
        print(f"\nnot measured ({len(missing)} configuration x architecture):")
        for d in missing:
            print(f"  {d['arch']:5} {d['module']:18} {rm.describe(d['core'], d['module'], d['params'])}  {d['nodes'][0]}")
    return {f"{a}:{k}": v[0] for (a, k), v in worst.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench_resource_model"))
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--formats", nargs="+", default=list(FORMATS))
    ap.add_argument("--arch", nargs="+", default=list(ARCHS))
    ap.add_argument("--only", help="only configurations whose core or module contains this")
    ap.add_argument("--budget", type=float, default=0, help="minutes of Yosys runs to start (0: no limit)")
    ap.add_argument("--no-synth", action="store_true", help="use the cached Yosys figures only")
    ap.add_argument("--fit", action="store_true", help="fit the coefficients and print the table with them")
    ap.add_argument("--write-data", type=Path, help="write the measured configurations (a test's reference JSON)")
    ap.add_argument("--write-coef", action="store_true", help="write the fitted COEF table into mase/compiler/resources.py")
    a = ap.parse_args(argv)
    a.out = a.out.resolve()
    a.out.mkdir(parents=True, exist_ok=True)
    groups = configs(a.out, a.models, a.formats)
    if a.no_synth:
        cf = a.out / "yosys.json"
        cache = json.loads(cf.read_text()) if cf.is_file() else {}
    else:
        cache = synthesize(a.out, groups, a.arch, a.budget, a.only)
    data = rows(groups, cache, a.arch)
    coef = None
    if a.fit or a.write_coef:
        coef = fit(data)
        print("COEF = " + json.dumps(coef, indent=1))
    if a.write_coef:
        write_coef(coef, data)
    table(data, coef)
    if a.write_data:
        keep = [{k: d[k] for k in ("arch", "core", "module", "params", "yosys", "commit")} | {"nodes": len(d["nodes"])}
                for d in data if d["yosys"] is not None]
        a.write_data.write_text(json.dumps({"generated_by": "benchmarks/bench_resource_model.py",
                                            "date": time.strftime("%Y-%m-%d"), "configs": keep}, indent=1) + "\n")
        print(f"wrote {a.write_data} ({len(keep)} configurations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
