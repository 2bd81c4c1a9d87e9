"""Speed and memory of evaluation: smollm2-135m on 4096 tokens, float vs mxint4, side by side.

Each configuration runs in its own process so that peak memory (max RSS) is measured separately:
the float process loads and evaluates the model; the mxint4 process loads, quantizes and evaluates
(weights quantized once, activations on the fly). Targets: time ratio <= 1.5, peak memory <= 2x.

    .venv/bin/python benchmarks/bench_eval.py [--tokens 4096] [--window 512] [--quant mxint4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def child(quant: str, tokens: int, window: int) -> None:
    from mase.config import load_group
    from mase.evaluate import eval_tokens, perplexity
    from mase.models import load_model
    from mase.quantize import quantize_model
    from mase.report import progress

    progress.set_enabled(False)
    model, tok = load_model("smollm2-135m")
    ids, used = eval_tokens(tok, "lee", tokens)
    t0 = time.perf_counter()
    if quant != "float":
        quantize_model(model, load_group("quant", quant), "smollm2-135m")
    t_quant = time.perf_counter() - t0
    res = perplexity(model, ids, window, window)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"quant": quant, "ppl": res["ppl"], "tokens": res["tokens"], "eval_s": res["seconds"],
                      "quantize_s": t_quant, "peak_rss_mb": peak_mb, "dataset": used}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--quant", default="mxint4")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.tokens, args.window)
        return
    rows = []
    for q in ("float", args.quant):
        out = subprocess.run([sys.executable, __file__, "--child", q, "--tokens", str(args.tokens),
                              "--window", str(args.window)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    f, q = rows
    print(f"{'config':8s} {'ppl':>9s} {'eval s':>8s} {'tok/s':>7s} {'quantize s':>11s} {'peak MB':>8s}")
    for r in rows:
        print(f"{r['quant']:8s} {r['ppl']:9.3f} {r['eval_s']:8.1f} {r['tokens'] / r['eval_s']:7.1f} "
              f"{r['quantize_s']:11.1f} {r['peak_rss_mb']:8.0f}")
    print(f"peak memory ratio {args.quant}/float: {q['peak_rss_mb'] / f['peak_rss_mb']:.2f} (target <= 2)")
    print(f"time ratio {args.quant}/float: {q['eval_s'] / f['eval_s']:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
