"""One table across models and metrics (issue 17): perplexity on two texts, zero-shot polarity accuracy,
average bits and the analytical energy per token, for each model and format.

    .venv/bin/python benchmarks/bench_accuracy.py [--models smollm2-135m,gemma3-270m] [--tokens 4096]
        [--quants float,fixed8,mxint8,mxint6,mxint4,mxint4w8a,mxint4w8a-gptq] [--jsonl rows.jsonl]
    # a search's best config as one more row (searched on one model: its row for that model)
    ... --models smollm2-135m --quants float,fixed8,best --config-dir multirun/<search>/conf

Per model the float model is loaded once; each format quantizes a copy (mase.quantize.quantize_model with
the run's calibration: fixed8 on the tokens after the scored lee text, GPTQ on gensim lee.cor) and is
scored with the quantized PyTorch model (eval.numerics=quantized) on:
- perplexity: the first --tokens tokens of gensim lee_background.cor and of the enwiki excerpt, windows of 512;
- eval=polarity: accuracy (%) +- its standard error on gensim's pang_lee_polarity.cor (200 sentences);
- bits: average weight / activation bits of the quantized layers (lm_head stays float);
- energy: uJ per token from the analytical hardware model on --target (mase.search.trial.hw_cost: graph,
  parameters, decode cycle model, energy model; no Verilator). A model or format the compiler cannot
  map gets the refusal's operator in that cell.
Deltas are against the float row of the same model (perplexity in %, accuracy in points) and, for
accuracy, against fixed8 (the paper's "delta accuracy"). Use --threads 1 on a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

QUANTS = ("float", "fixed8", "mxint8", "mxint6", "mxint4", "mxint4w8a", "mxint4w8a-gptq")
MODELS = ("smollm2-135m", "gemma3-270m")


def _config(model: str, quant: str, a: argparse.Namespace):
    from mase.config import compose

    return compose([f"+model={model}", f"quant={'fp32' if quant == 'float' else quant}", f"target={a.target}",
                    "eval=polarity", "eval.dataset=lee", f"eval.tokens={a.tokens}", "eval.extra_datasets=[enwiki]",
                    f"eval.task.examples={a.examples}", "eval.numerics=quantized", "eval.float_baseline=false",
                    "progress=false"], config_dir=a.config_dir)


class _Ctx:
    """What mase.search.trial.hw_cost reads of a run context."""

    def __init__(self, cfg, model):
        self.cfg, self.model = cfg, model

    def ensure_model(self) -> None:
        pass


def energy(cfg, model) -> tuple[float | None, str]:
    from mase.errors import MaseError
    from mase.search.trial import hw_cost

    try:
        return hw_cost(_Ctx(cfg, model))["energy_per_token"], ""
    except MaseError as exc:  # the compiler's one-line refusal: name the operator in the cell
        m = re.search(r"operator ([^(;]+?) \(", str(exc)) or re.search(r"=(\w+) has no hardware", str(exc))
        return None, f"not mapped: {m.group(1) if m else str(exc)[:60]}"


def measure(name: str, quant: str, base, tok, a: argparse.Namespace) -> dict[str, Any]:
    from mase.evaluate import evaluate
    from mase.evaluate.task import examples
    from mase.quantize import bit_stats, quantize_model

    t0 = time.perf_counter()
    cfg = _config(name, quant, a)
    model = copy.deepcopy(base)
    if quant != "float":
        quantize_model(model, cfg.quant, name, tok, cfg.eval)
    ev = evaluate(model, tok, cfg.eval, "quantized")
    bits = bit_stats(model) if quant != "float" else {}
    uj, note = energy(cfg, model) if quant != "float" else (None, "float: no core")
    per = ev.get("ppl_datasets") or {}
    return {"model": name, "quant": quant, "ppl_lee": per.get("lee", {}).get("ppl"),
            "ppl_enwiki": per.get("enwiki", {}).get("ppl"), "acc": ev.get("task_accuracy"),
            "acc_stderr": ev.get("task_accuracy_stderr"), "examples": ev.get("task_examples"),
            "avg_weight_bits": bits.get("avg_weight_bits"), "avg_act_bits": bits.get("avg_act_bits"),
            "energy_uj": uj, "note": note, "tokens": a.tokens, "examples_asked": a.examples, "target": a.target,
            "seconds": round(time.perf_counter() - t0, 1), "load": round(os.getloadavg()[0], 1),
            "preds": ev.get("task_predictions"),
            "gold": [lab for _, lab in examples(cfg.eval.task)] if quant == "float" else None}


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def table(rows: list[dict[str, Any]]) -> str:
    from mase.evaluate import paired_change

    out = ["| model | format | ppl lee (d% float) | ppl enwiki (d% float) | polarity acc % +- se (d float, d fixed8) "
           "| answers vs float: fixed / broken (McNemar p) | w bits | a bits | uJ/token |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = {q: next((x for x in rows if x["model"] == r["model"] and x["quant"] == q), {}) for q in ("float", "fixed8")}

        def d_pct(k):
            f = ref["float"].get(k)
            return f" ({100 * (r[k] - f) / f:+.2f}%)" if r.get(k) and f and r["quant"] != "float" else ""

        def d_pts(q):
            b = ref[q].get("acc")
            return f"{r['acc'] - b:+.1f}" if r.get("acc") is not None and b is not None and r["quant"] != q else "-"

        acc = (f"{r['acc']:.1f} +- {r['acc_stderr']:.1f} ({d_pts('float')}, {d_pts('fixed8')})"
               if r.get("acc") is not None else "-")
        fl, pair = ref["float"], "-"
        if r["quant"] != "float" and r.get("preds") and fl.get("preds") and fl.get("gold"):
            c = paired_change(fl["gold"], fl["preds"], r["preds"])
            pair = f"{c['task_fixed']} / {c['task_broken']} ({c['task_mcnemar_p']:.2g})"
        out.append(f"| {r['model']} | {r['quant']} | {_f(r['ppl_lee'], '.3f')}{d_pct('ppl_lee')} | "
                   f"{_f(r['ppl_enwiki'], '.3f')}{d_pct('ppl_enwiki')} | {acc} | {pair} | {_f(r['avg_weight_bits'], '.2f')} | "
                   f"{_f(r['avg_act_bits'], '.2f')} | {_f(r['energy_uj'], '.2f') if r['energy_uj'] else r['note'] or '-'} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--quants", default=",".join(QUANTS), help="float and quant presets (conf/quant)")
    p.add_argument("--tokens", type=int, default=4096, help="scored tokens per text")
    p.add_argument("--examples", type=int, default=0, help="polarity examples (0: all 200)")
    p.add_argument("--target", default="u250", help="target of the energy model")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--config-dir", help="more configs, e.g. a search's <sweep>/conf (quant=best)")
    p.add_argument("--jsonl", type=Path, help="append each row as it is measured; rows already there are kept")
    a = p.parse_args(argv)
    import torch

    from mase.models import load_model
    from mase.report import progress

    torch.set_num_threads(a.threads)
    progress.set_enabled(False)
    done = [json.loads(x) for x in a.jsonl.read_text().splitlines() if x.strip()] if a.jsonl and a.jsonl.exists() else []
    rows = [r for r in done if r["tokens"] == a.tokens and r.get("examples_asked") == a.examples]
    for name in a.models.split(","):
        todo = [q for q in a.quants.split(",") if not any(r["model"] == name and r["quant"] == q for r in rows)]
        if not todo:
            continue
        base, tok = load_model(name)
        for q in todo:
            row = measure(name, q, base, tok, a)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if a.jsonl:
                with a.jsonl.open("a") as f:
                    f.write(json.dumps(row) + "\n")
        del base
    order = {q: i for i, q in enumerate(a.quants.split(","))}
    rows.sort(key=lambda r: (a.models.split(",").index(r["model"]) if r["model"] in a.models.split(",") else 99,
                             order.get(r["quant"], 99)))
    print(f"{a.tokens} scored tokens per text (windows of 512), polarity: all examples unless --examples; "
          f"energy on {a.target}; quantized PyTorch numerics")
    print(table([r for r in rows if r["model"] in a.models.split(",")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
