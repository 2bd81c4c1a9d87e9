"""Compiler benchmarks (issue 6, section 6):

1. time from config to generated project for smollm2-135m on the U250 (target: under 60 s on 2 cores);
2. Verilator speed (cycles per second) simulating the first decoder layer of smollm2-135m at its real
   dimensions (the nodes the existing cores cover);
3. pipeline efficiency = ideal cycles (work / lanes) over simulated cycles on the tiny models
   (target: 0.95 or better), steady state and over the whole prompt;
4. the analytical decode model's latency against Verilator on the tiny models with a one-token prompt
   (a decode step with an empty cache; target: within 5%), and on smollm2-135m's decoder layer 0;
5. the fixed8 / MX comparison in the hardware report's table format (analytical where no tools).

    python benchmarks/bench_compile.py                 # everything
    python benchmarks/bench_compile.py --quick         # skip the smollm2 simulation build
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MASE_EAGER", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _run(overrides: list[str], out: Path, stages: list[str]):
    from mase.config import compose
    from mase.pipeline import run

    t0 = time.perf_counter()
    ctx = run(compose(overrides), out, stages=stages)
    return ctx, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the smollm2 decoder-layer simulation")
    ap.add_argument("--out", default=None, help="work folder (default: a temporary folder)")
    args = ap.parse_args()
    from rich.console import Console

    from mase.report import progress

    progress.set_enabled(False)
    con = Console(width=180)
    root = Path(args.out or tempfile.mkdtemp(prefix="bench-compile-"))
    results: dict = {}

    # 1. config -> generated project, smollm2-135m on the U250
    ctx, secs = _run(["+model=smollm2-135m", "quant=mxint4", "target=u250"], root / "smollm2", ["emit"])
    e = ctx.results["emit"]
    results["compile_smollm2_s"] = secs
    con.print(f"[bold]1. config -> project[/] smollm2-135m mxint4 u250: {secs:.1f} s total "
              f"(emit {e['seconds']['total']:.1f} s: capture {e['seconds']['capture']:.2f}, parameters "
              f"{e['seconds']['parameters']:.2f}, golden layer 0 {e['seconds']['golden']:.1f}; rest: model load, "
              f"images of {e['nodes']} nodes); target < 60 s")

    # 2. Verilator cycles/s on decoder layer 0 at real dimensions
    if not args.quick:
        ctx, secs = _run(["+model=smollm2-135m", "quant=mxint4", "target=u250"], root / "smollm2", ["lint", "sim"])
        s = ctx.results["sim"]
        r0 = s["runs"][0]
        run_s = s["seconds"]["run"] / len(s["runs"])
        results["verilator_cycles_per_s"] = r0["cycles"] / run_s
        con.print(f"[bold]2. Verilator[/] smollm2 {s['scope']}: {r0['cycles']} cycles in {run_s:.2f} s -> "
                  f"{r0['cycles'] / run_s:,.0f} cycles/s (build {s['seconds']['build']:.0f} s); bit-exact: {s['bit_exact']}")

    # 3. pipeline efficiency on the tiny models
    for model in ("tiny-llama", "tiny-opt"):
        ctx, secs = _run([f"+model={model}", "quant=mxint4", "target=sim"], root / model, ["emit", "lint", "sim"])
        p = ctx.results["sim"]["performance"]
        results[f"efficiency_{model}"] = p
        con.print(f"[bold]3. pipeline efficiency[/] {model} ({ctx.results['sim']['scope']}): ideal II {p['ii_ideal']} "
                  f"cycles/token; simulated {p['cycles_per_token_steady']:.1f} cycles/token in steady state -> "
                  f"{p['efficiency_steady']:.3f}; whole prompt {p['cycles_total']} cycles -> {p['efficiency_total']:.3f}")

    # 4. the decode latency model against a one-token simulation (a decode step with an empty cache)
    for model in ("tiny-llama", "tiny-opt"):
        ctx, secs = _run([f"+model={model}", "quant=mxint4", "target=sim", "hw.prompt_tokens=1"], root / f"{model}_t1",
                         ["emit", "lint", "sim", "hw_report"])
        d = ctx.results["hw_report"]["model_vs_sim"]["decode"]
        results[f"decode_vs_sim_{model}"] = d
        con.print(f"[bold]4. decode latency model[/] {model} ({d['scope']}, one-token prompt): model {d['latency_model']} "
                  f"cycles, Verilator {d['latency_sim']} cycles -> error {d['error_pct']:+.2f}% (target within 5%)")

    if not args.quick:  # smollm2-135m: decoder layer 0 with a one-token prompt (the per-layer latency term)
        ctx, secs = _run(["+model=smollm2-135m", "quant=mxint4", "target=sim", "hw.prompt_tokens=1"],
                         root / "smollm2_t1", ["emit", "sim", "hw_report"])
        d = ctx.results["hw_report"]["model_vs_sim"]["decode"]
        results["decode_vs_sim_smollm2_layer0"] = d
        con.print(f"[bold]4. decode latency model[/] smollm2-135m ({d['scope']}, one-token prompt): model "
                  f"{d['latency_model']} cycles, Verilator {d['latency_sim']} cycles -> error {d['error_pct']:+.2f}%")

    # 5. fixed8 vs MX through the pipeline (quantize: fixed8 calibrates its static scales; emit without golden
    # stimulus; hw_report: the analytical model, decode at the prompt's context), in the report's table format
    from mase.compiler.report import hw_table

    reps, rows = [], {}
    for quant in ("fixed8", "mxint8", "mxint4", "mxfp4"):
        ctx, secs = _run(["+model=smollm2-135m", f"quant={quant}", "target=u250", "hw.golden=false"],
                         root / f"compare_{quant}", ["quantize", "emit", "hw_report"])
        r = ctx.results["hw_report"]
        reps.append(r)
        rows[quant] = {k: r[k] for k in ("resources", "cycles", "tokens_per_s", "memory", "energy")}
    base = rows["fixed8"]["energy"]["energy_per_token_uj"]
    con.print(hw_table(reps, "5. smollm2-135m on the U250: fixed8 vs MX (analytical resources and decode)"))
    con.print("   energy per token vs fixed8: " + ", ".join(
        f"{q} {r['energy']['energy_per_token_uj'] / base:.4f}x" for q, r in rows.items()))
    results["compare"] = rows
    (root / "bench_compile.json").write_text(json.dumps(results, indent=1, default=str))
    con.print(f"results: {root / 'bench_compile.json'}")
    if results["compile_smollm2_s"] > 60:
        con.print(f"[yellow]compile time {results['compile_smollm2_s']:.1f} s is above the 60 s target[/]")


if __name__ == "__main__":
    sys.exit(main())
