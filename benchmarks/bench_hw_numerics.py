"""The accuracy we print is the hardware's: perplexity of the golden model against the evaluation path
with the hardware's numerics (eval.numerics=hardware, the default of runs that emit hardware).

- golden: one prompt of `tokens + 1` tokens through mase.compiler.golden.run_graph (what the RTL
  computes bit for bit), the host's embedding in and `lm_head` on the final norm, NLL of the
  `tokens` next-token predictions, written out here step by step;
- software path: mase.evaluate.evaluate(..., numerics="hardware") on the same tokens (one window);
- for contrast, the quantized PyTorch model (numerics "quantized") and float.

The formats between the cores are calibrated on quant.calibration_tokens tokens that follow the
scored ones (disjoint). Pass: |ppl_software / ppl_golden - 1| <= 0.1%.

    python benchmarks/bench_hw_numerics.py                       # smollm2-135m, mxint4, 512 tokens
    python benchmarks/bench_hw_numerics.py --model tiny-llama --quant mxint8
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--quant", default="mxint4")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--dataset", default="lee")
    ap.add_argument("--calibration-tokens", type=int, default=512)
    a = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from mase.compiler.golden import host_embeddings, output_float, run_graph, saturation_summary
    from mase.compiler.graph import capture
    from mase.config import compose
    from mase.evaluate import eval_tokens, evaluate
    from mase.evaluate.hardware import lm_logits
    from mase.models import load_model
    from mase.quantize import quantize_model
    from mase.report import progress

    progress.set_enabled(False)
    n = a.tokens + 1  # one window: tokens + 1 ids, `tokens` predictions
    cfg = compose([f"+model={a.model}", f"quant={a.quant}", "eval=default", f"eval.tokens={a.tokens}",
                   f"eval.window={n}", f"eval.stride={n}", f"eval.dataset={a.dataset}", "eval.float_baseline=true",
                   f"quant.calibration_tokens={a.calibration_tokens}"])
    model, tok = load_model(cfg.model)
    quantize_model(model, cfg.quant, a.model, tok, cfg.eval)
    ids, used = eval_tokens(tok, a.dataset, a.tokens)

    t0 = time.perf_counter()
    g = capture(model, cfg.quant, seq_len=n, hw=cfg.hw)
    sat: dict = {}
    with torch.no_grad():
        vals = run_graph(g, host_embeddings(model, ids), keep=set(g.outputs), sat=sat)
        logits = lm_logits(model, output_float(g, vals))
    nll = float(F.cross_entropy(logits[:-1], ids[1:], reduction="mean"))
    golden = {"ppl": math.exp(nll), "seconds": time.perf_counter() - t0, "saturations": saturation_summary(sat)}

    soft = evaluate(model, tok, cfg.eval, "hardware", cfg.quant, cfg.hw)
    quant = evaluate(model, tok, cfg.eval, "quantized")
    ratio = soft["ppl"] / golden["ppl"]
    print(f"{a.model} {a.quant}: {a.tokens} scored tokens of {used} (calibration: tokens "
          f"{soft['calibration']['tokens'][0]}..{soft['calibration']['tokens'][1]} of the same text)")
    print(f"  golden model (run_graph, {n} tokens) ppl {golden['ppl']:.6f}  ({golden['seconds']:.0f} s)")
    print(f"  software path (numerics=hardware)  ppl {soft['ppl']:.6f}  ({soft['seconds']:.0f} s)")
    print(f"  ratio software / golden            {ratio:.8f}  ({100 * (ratio - 1):+.5f}%)")
    print(f"  quantized PyTorch model            ppl {quant['ppl']:.6f}  ({100 * (quant['ppl'] / golden['ppl'] - 1):+.3f}% "
          f"vs the hardware)")
    print(f"  float                              ppl {quant['ppl_float']:.6f}")
    print(f"  clipped values on the fixed-point streams: {golden['saturations']['total']} of "
          f"{golden['saturations']['values']} ({', '.join(f'{k} {v}' for k, v in list(golden['saturations']['per_edge'].items())[:5])})")
    ok = abs(ratio - 1) <= 1e-3
    print("PASS" if ok else "FAIL", "(|ratio - 1| <= 0.1%)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
