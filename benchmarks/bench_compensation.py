"""Error compensation for MX weights on smollm2-135m: perplexity of each method, W4A8 and its parts.

Every method is a quant config (mxint4w8a with overrides, the same keys a `mase` run takes), applied
by mase.quantize.quantize_model with the calibration text of quant.gptq (gensim lee.cor, disjoint
from the evaluated lee_background.cor), and scored on the first --tokens tokens of lee in windows of
512, against the float model on the same tokens. Each method runs in its own process.

    .venv/bin/python benchmarks/bench_compensation.py [--tokens 4096] [--methods "W4A8 nearest;gptq (sink token x128 in H)"]

Methods (name -> overrides of quant=mxint4w8a):
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

METHODS: dict[str, dict] = {
    # where the W4A8 loss comes from (nearest rounding)
    "W4A16 nearest": {"default": {"act": "fp32"}},
    "W16A8 nearest": {"default": {"weight": "fp32"}},
    "W4A8 nearest": {},
    # GPTQ variants
    "gptq, plain H (sink weight 1)": {"weight_rounding": "gptq", "gptq": {"sink_weight": 1.0}},
    "gptq, sink token out of H": {"weight_rounding": "gptq", "gptq": {"sink_weight": 0.0}},
    "gptq (sink token x128 in H)": {"weight_rounding": "gptq"},
    "gptq, sink weight 512": {"weight_rounding": "gptq", "gptq": {"sink_weight": 512.0}},
    "gptq, sink weight 2048": {"weight_rounding": "gptq", "gptq": {"sink_weight": 2048.0}},
    "gptq, sink weight 1, v_proj nearest": {"weight_rounding": "gptq", "gptq": {"sink_weight": 1.0,
                                                                                 "skip": ["*v_proj"]}},
    "gptq, v_proj nearest": {"weight_rounding": "gptq", "gptq": {"skip": ["*v_proj"]}},
    "gptq, exponent search": {"weight_rounding": "gptq", "gptq": {"exp_search": True}},
    "gptq, exponents from original": {"weight_rounding": "gptq", "gptq": {"scale_from": "original"}},
    "gptq, act order": {"weight_rounding": "gptq", "gptq": {"act_order": True}},
    "gptq, damp 0.1": {"weight_rounding": "gptq", "gptq": {"damp": 0.1}},
    # activation-aware scaling folded into the norms / up_proj
    "awq scaling": {"act_scaling": "awq"},
    "awq scaling + gptq": {"act_scaling": "awq", "weight_rounding": "gptq"},
    # an orthogonal rotation of the residual stream folded into the weights (mase.quantize.rotation)
    "rotation hadamard, W4A16 nearest": {"rotation": "hadamard", "default": {"act": "fp32"}},
    "rotation hadamard, nearest": {"rotation": "hadamard"},
    "rotation random, nearest": {"rotation": "random"},
    "rotation hadamard + heads, nearest": {"rotation": "hadamard", "rotation_heads": True},
    "rotation hadamard keep 1, nearest": {"rotation": "hadamard", "rotation_keep": 1},
    "rotation hadamard keep 4, nearest": {"rotation": "hadamard", "rotation_keep": 4},
    "rotation hadamard keep 16, nearest": {"rotation": "hadamard", "rotation_keep": 16},
    "rotation hadamard block 32, nearest": {"rotation": "hadamard", "rotation_block": 32},
    "rotation hadamard block 32 + gptq": {"rotation": "hadamard", "rotation_block": 32, "weight_rounding": "gptq"},
    "rotation hadamard keep 1 + gptq": {"rotation": "hadamard", "rotation_keep": 1, "weight_rounding": "gptq"},
    "rotation random + gptq": {"rotation": "random", "weight_rounding": "gptq"},
    "rotation block 32 + gptq, exponent search": {"rotation": "hadamard", "rotation_block": 32,
                                                  "weight_rounding": "gptq", "gptq": {"exp_search": True}},
    "rotation block 32 + gptq, exponent search from original": {
        "rotation": "hadamard", "rotation_block": 32, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "scale_from": "original"}},
    "rotation block 32 + gptq, exponent search, act order": {
        "rotation": "hadamard", "rotation_block": 32, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "act_order": True}},
    "rotation block 32 + gptq, exponent search from original, act order": {
        "rotation": "hadamard", "rotation_block": 32, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "scale_from": "original", "act_order": True}},
    "rotation block 32 seed 1 + gptq, exponent search, act order": {
        "rotation": "hadamard", "rotation_block": 32, "rotation_seed": 1, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "act_order": True}},
    "rotation block 32 seed 2 + gptq, exponent search, act order": {
        "rotation": "hadamard", "rotation_block": 32, "rotation_seed": 2, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "act_order": True}},
    "rotation block 64 + gptq, exponent search, act order": {
        "rotation": "hadamard", "rotation_block": 64, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "act_order": True}},
    "rotation block 32 + heads + gptq, exponent search, act order": {
        "rotation": "hadamard", "rotation_block": 32, "rotation_heads": True, "weight_rounding": "gptq",
        "gptq": {"exp_search": True, "act_order": True}},
    "gptq, exponent search, act order, sink weight 512": {"weight_rounding": "gptq", "gptq": {
        "exp_search": True, "act_order": True, "sink_weight": 512.0}},
    "gptq, exponent search, act order": {"weight_rounding": "gptq", "gptq": {"exp_search": True, "act_order": True}},
    "gptq, exponent search, act order, asym 1 damp 10": {"weight_rounding": "gptq", "gptq": {
        "exp_search": True, "act_order": True, "asym": 1.0, "asym_damp": 10.0}},
    "gptq, exponent search, act order, damp 0.001": {"weight_rounding": "gptq", "gptq": {
        "exp_search": True, "act_order": True, "damp": 0.001}},
    "gptq, exponent search, act order, damp 0.0001": {"weight_rounding": "gptq", "gptq": {
        "exp_search": True, "act_order": True, "damp": 0.0001}},
    "gptq, exponent search, act order, damp 0.1": {"weight_rounding": "gptq", "gptq": {
        "exp_search": True, "act_order": True, "damp": 0.1}},
    "gptq, exponent search from original": {"weight_rounding": "gptq",
                                            "gptq": {"exp_search": True, "scale_from": "original"}},
    "rotation hadamard + gptq": {"rotation": "hadamard", "weight_rounding": "gptq"},
    "rotation hadamard + gptq, sink weight 1": {"rotation": "hadamard", "weight_rounding": "gptq",
                                                "gptq": {"sink_weight": 1.0}},
    "rotation hadamard + heads + gptq": {"rotation": "hadamard", "rotation_heads": True, "weight_rounding": "gptq"},
}
for _o in METHODS.values():  # measured before exp_search and act_order became the defaults: say which
    if _o.get("weight_rounding") == "gptq":
        _o.setdefault("gptq", {}).setdefault("exp_search", False)
        _o["gptq"].setdefault("act_order", False)
__doc__ += "".join(f"    {k}: {json.dumps(v)}\n" for k, v in METHODS.items())


def child(method: str, tokens: int, threads: int) -> None:
    import torch

    from mase.config import load_group
    from mase.evaluate import eval_tokens, perplexity
    from mase.models import load_model
    from mase.quantize import quantization_disabled, quantize_model
    from mase.report import progress

    progress.set_enabled(False)
    if threads:
        torch.set_num_threads(threads)
    model, tok = load_model("smollm2-135m")
    ids, used = eval_tokens(tok, "lee", tokens)
    q = load_group("quant", "mxint4w8a", **METHODS[method])
    t0 = time.perf_counter()
    quantize_model(model, q, "smollm2-135m", tok, load_group("eval", "default", dataset="lee", tokens=tokens))
    t_quant = time.perf_counter() - t0
    res = perplexity(model, ids, 512, 512)
    with quantization_disabled(model):
        flt = perplexity(model, ids, 512, 512)
    cal = getattr(model, "mase_calibration", {}) or {}
    print(json.dumps({"method": method, "ppl": res["ppl"], "ppl_float": flt["ppl"], "tokens": res["tokens"],
                      "quantize_s": t_quant, "dataset": used, "calibration": cal.get("gptq")}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--methods", default=";".join(METHODS), help="names separated by ; (see the module doc)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process (1: best on shared cores)")
    ap.add_argument("--jsonl", help="also append each method's full result (a JSON line) to this file")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.tokens, args.threads)
        return
    names = [m.strip() for m in args.methods.split(";") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        sys.exit(f"bench_compensation: unknown methods {unknown}; choose from {list(METHODS)}")
    print(f"smollm2-135m, {args.tokens} tokens of lee (lee_background.cor), windows of 512; calibration: "
          f"gensim lee.cor (disjoint)")
    print(f"{'method':32s} {'ppl':>8s} {'vs float':>9s} {'quantize s':>11s}")
    for m in names:
        out = subprocess.run([sys.executable, __file__, "--child", m, "--tokens", str(args.tokens),
                              "--threads", str(args.threads)], capture_output=True, text=True)
        if out.returncode:
            print(f"{m:32s} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if args.jsonl:
            with open(args.jsonl, "a") as f:
                f.write(json.dumps({**r, "overrides": METHODS[m]}) + "\n")
        delta = 100 * (r["ppl"] / r["ppl_float"] - 1)
        print(f"{m:32s} {r['ppl']:8.2f} {delta:+8.1f}% {r['quantize_s']:11.0f}", flush=True)
    print(f"float ppl {r['ppl_float']:.2f}")


if __name__ == "__main__":
    main()
