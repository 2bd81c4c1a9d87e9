"""The mixed-precision search on smollm2-135m (issue 11): a whole `mase -m ... search=mixed4` sweep, then
the figures the issue asks for.

    python benchmarks/bench_search.py                       # the real search: 4096 lee tokens, windows of 512
    python benchmarks/bench_search.py --smoke               # 3 trials on eval=quick: checks the flow, times a trial
    python benchmarks/bench_search.py --trials 60 --budget 4.25 --sweep-dir /tmp/search

Prints the search's Pareto table (the sweep's own), then: the sensitivity pass and per-trial times, the
trials needed to reach the target (perplexity within search.target_delta_pct of float, within budget),
whether the best config beats every uniform reference of equal or more average weight bits, and its
analytical energy per token against fixed8 (mase.compiler's cost model, no simulation). The last line is
machine-readable: `search trials=<n> trials_to_target=<n|none> best_ppl=<p> best_bits=<b> ...`.
"""

from __future__ import annotations

import argparse
import json
import os
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
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--budget", type=float, default=4.5)
    p.add_argument("--granularity", default="type", choices=("layer", "type", "type_group"))
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads per trial (0: torch's default)")
    p.add_argument("--jobs", type=int, default=2, help="trials at once (joblib launcher; 1: one after another)")
    p.add_argument("--sweep-dir", default=None)
    p.add_argument("--smoke", action="store_true", help="3 trials on eval=quick, references mxint4w8a only")
    return p.parse_args()


def _energy(model: str, quant_args: list[str], config_dir: str | None, threads: int) -> float:
    """Analytical energy per token (uJ) of a quant config: quantize, then the compiler's cost model."""
    import torch

    from mase.config import compose
    from mase.pipeline import run
    from mase.search.trial import hw_cost

    if threads:
        torch.set_num_threads(threads)
    cfg = compose([f"+model={model}", *quant_args, "stages=[quantize]", "progress=false"], config_dir=config_dir)
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_search_energy_{os.getpid()}"
    return hw_cost(run(cfg, out))["energy_per_token"]


def main() -> int:
    a = _args()
    sweep = Path(a.sweep_dir or f"multirun/bench_search_{time.strftime('%Y%m%d_%H%M%S')}").absolute()
    evals = ["eval=quick"] if a.smoke else ["eval=default", "eval.dataset=lee", "eval.tokens=4096", "eval.window=512"]
    refs = ["mxint4w8a"] if a.smoke else REFERENCES
    cmd = [sys.executable, "-m", "mase.cli", "-m", f"+model={a.model}", "search=mixed4", *evals,
           f"hydra.sweeper.n_trials={3 if a.smoke else a.trials}", f"search.budget={a.budget}",
           f"search.granularity={a.granularity}", f"search.groups={a.groups}", f"search.references=[{','.join(refs)}]",
           f"threads={a.threads}", "progress=false", f"hydra.sweep.dir={sweep}"]
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
        e_best = _energy(a.model, ["quant=best"], str(sweep / "conf"), a.threads)
        e_fixed8 = _energy(a.model, ["quant=fixed8"], None, a.threads)
        print(f"energy per token (analytical): best {e_best:.1f} uJ, fixed8 {e_fixed8:.1f} uJ, "
              f"ratio {e_best / e_fixed8:.3f}")
    print(f"search trials={summary['trials']} trials_to_target={tt or 'none'} "
          f"best_ppl={best['ppl'] if best else 'none'} best_bits={best['avg_weight_bits'] if best else 'none'} "
          f"beats_uniform={beats} wall_min={wall / 60:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
