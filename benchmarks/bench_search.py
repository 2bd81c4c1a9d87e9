"""The mixed-precision search on smollm2-135m (issue 11): a whole `mase -m ... search=mixed4` sweep, then
the figures the issue asks for.

    python benchmarks/bench_search.py                       # the real search: 4096 lee tokens, windows of 512
    python benchmarks/bench_search.py --smoke               # 3 trials on eval=quick: checks the flow, times a trial
    python benchmarks/bench_search.py --trials 60 --budget 4.25 --sweep-dir /tmp/search

Prints the search's Pareto table (the sweep's own), then: the sensitivity pass and per-trial times, the
trials needed to reach the target (perplexity within search.target_delta_pct of float, within budget),
whether the best config beats every uniform reference of equal or more average weight bits, and the
paper's comparison: the best config and fixed8 through the hardware flow in one sweep
(`mase -m --config-dir <sweep>/conf quant=fixed8,best target=u250` with emit, lint, Verilator
simulation and hw_report; --hw-stages to change), its table with the perplexity change and the energy
per token ratio vs fixed8. The last line is machine-readable:
`search trials=<n> trials_to_target=<n|none> best_ppl=<p> best_bits=<b> ...`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# uniform references: float, the 8-bit fixed-point baseline, MX at 8 and 6 bits, 4-bit weights with 8-
# and 4-bit activations, and W4A8 with GPTQ (as the trials round) in blocks of 32 (4.25 bits) and 16
# (4.5 bits: the budget)
REFERENCES = ["fp32", "fixed8", "mxint8", "mxint6", "mxint4w8a", "mxint4", "mxint4w8a-gptq", "mxint4w8a-gptq-b16"]


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--budget", type=float, default=4.5)
    p.add_argument("--granularity", default="layer", choices=("layer", "type", "type_group"))
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads per trial (0: torch's default)")
    p.add_argument("--jobs", type=int, default=2, help="trials at once (joblib launcher; 1: one after another)")
    p.add_argument("--sweep-dir", default=None)
    p.add_argument("--smoke", action="store_true", help="3 trials on eval=quick, references mxint4w8a only")
    p.add_argument("--target", default="u250", help="the hardware comparison's target")
    p.add_argument("--other-text", default="enwiki",
                   help="a text the search never saw: the best config and the uniform GPTQ configs scored on it "
                        "(empty: skip)")
    p.add_argument("--hw-stages", default="quantize,evaluate,emit,lint,sim,report,hw_report",
                   help="stages of the hardware comparison (empty: skip it)")
    p.add_argument("overrides", nargs="*", help="more Hydra overrides for the search and its follow-up runs, "
                   "e.g. quant.gptq.damp=0.0001")
    return p.parse_args()


def _hardware_sweep(a: argparse.Namespace, sweep: Path, evals: list[str]) -> dict | None:
    """The best config and fixed8 through the hardware flow, one multirun; returns the best's sweep row."""
    hw_dir = sweep / "hardware"
    cmd = [sys.executable, "-m", "mase.cli", "--config-dir", str(sweep / "conf"), "-m", f"+model={a.model}",
           "quant=fixed8,best", f"target={a.target}", f"stages=[{a.hw_stages}]", *evals, *a.overrides, f"threads={a.threads}",
           "progress=false", f"hydra.sweep.dir={hw_dir}"]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    if subprocess.run(cmd).returncode:
        print("bench_search: the hardware comparison failed", file=sys.stderr)
        return None
    rows = json.loads((hw_dir / "sweep.json").read_text())["rows"]
    print(f"hardware comparison: {(time.perf_counter() - t0) / 60:.1f} min, table above ({hw_dir}/sweep.json)")
    return next((r for r in rows if r.get("quant") != "fixed8"), None)


def _other_text(a: argparse.Namespace, sweep: Path, evals: list[str]) -> list[dict]:
    """The best config and the uniform W4A8 GPTQ configs (blocks of 32 and 16) on a text the search did
    not select on: is the best config better there too?"""
    out = sweep / f"text_{a.other_text}"
    ev = [e for e in evals if not e.startswith("eval.dataset=")] + [f"eval.dataset={a.other_text}"]
    cmd = [sys.executable, "-m", "mase.cli", "--config-dir", str(sweep / "conf"), "-m", f"+model={a.model}",
           "quant=best,mxint4w8a-gptq-b16,mxint4w8a-gptq", "stages=[quantize,evaluate,report]", *ev, *a.overrides,
           f"threads={a.threads}", "progress=false", f"hydra.sweep.dir={out}"]
    if a.jobs > 1:
        cmd += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={a.jobs}"]
    print("$", " ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode:
        print(f"bench_search: scoring on {a.other_text} failed", file=sys.stderr)
        return []
    return json.loads((out / "sweep.json").read_text())["rows"]


def main() -> int:
    a = _args()
    sweep = Path(a.sweep_dir or f"multirun/bench_search_{time.strftime('%Y%m%d_%H%M%S')}").absolute()
    evals = ["eval=quick"] if a.smoke else ["eval=default", "eval.dataset=lee", "eval.tokens=4096", "eval.window=512"]
    refs = ["mxint4w8a"] if a.smoke else REFERENCES
    cmd = [sys.executable, "-m", "mase.cli", "-m", f"+model={a.model}", "search=mixed4", *evals,
           f"hydra.sweeper.n_trials={3 if a.smoke else a.trials}", f"search.budget={a.budget}",
           f"search.granularity={a.granularity}", f"search.groups={a.groups}", f"search.references=[{','.join(refs)}]",
           f"threads={a.threads}", "progress=false", f"hydra.sweep.dir={sweep}", *a.overrides]
    if a.jobs > 1:  # GPTQ's column loop is one thread: parallel trials use two cores better than threads
        cmd += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={a.jobs}", f"hydra.sweeper.n_jobs={a.jobs}"]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd)
    wall = time.perf_counter() - t0
    if r.returncode:
        print(f"bench_search: the sweep failed (exit {r.returncode})", file=sys.stderr)
        return r.returncode
    summary = json.loads((sweep / "search" / "summary.json").read_text())
    sens = json.loads((sweep / "search" / "sensitivity.json").read_text())
    trials = [json.loads(p.read_text()) for p in sweep.glob("*/search.json")]
    times = sorted(t["seconds"]["trial"] for t in trials if "trial" in t.get("seconds", {}))
    best = summary["best"]
    print(f"\nsweep {sweep}: {wall / 60:.1f} min in all; sensitivity pass {sens['seconds']['total']:.0f} s "
          f"(float ppl {sens['ppl_float']:.3f}, {sens['pruned']} choices pruned, {len(sens['seeds'])} seeds)")
    if times:
        print(f"evaluated trials: {len(times)}, median {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s; "
              f"{summary['over_budget']} over budget (not evaluated)")
    tt = summary["trials_to_target"]
    print(f"target ppl {summary['target_ppl']:.3f}: " + (f"reached after {tt} trials" if tt else "not reached"))
    beats = None
    if best:
        worse = [r for r in summary["references"] if r["avg_weight_bits"] >= best["avg_weight_bits"] - 1e-9
                 and r["quant"] != "fp32" and r["ppl"] is not None and r["ppl"] <= best["ppl"]]
        beats = not worse
        print(f"best: trial {best['trial']}, ppl {best['ppl']:.3f}, {best['avg_weight_bits']:.3f} weight bits; "
              + ("beats every uniform reference of equal or more bits" if beats else
                 "NOT better than " + ", ".join(f"{r['quant']} ({r['ppl']:.3f} at {r['avg_weight_bits']:.2f} bits)"
                                               for r in worse)))
        if a.other_text:
            rows = _other_text(a, sweep, evals)
            for r in rows:
                print(f"on {a.other_text}: {r['quant']:40s} ppl {r['ppl']:.3f} ({r['delta_ppl_pct']:+.2f}% vs float) "
                      f"at {r['avg_weight_bits']:.3f} weight bits")
        if a.hw_stages:
            hw = _hardware_sweep(a, sweep, evals)
            if hw:
                print(f"vs fixed8 through the hardware flow ({a.target}): perplexity {hw['delta_ppl_vs_fixed8_pct']:+.2f}%, "
                      f"energy per token x{hw['energy_vs_fixed8']:.3f} (dynamic x{hw['dynamic_energy_vs_fixed8']:.3f}); "
                      f"simulation: {hw['sim']}")
    print(f"search trials={summary['trials']} trials_to_target={tt or 'none'} "
          f"best_ppl={best['ppl'] if best else 'none'} best_bits={best['avg_weight_bits'] if best else 'none'} "
          f"beats_uniform={beats} wall_min={wall / 60:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
