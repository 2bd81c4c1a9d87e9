"""The accelerator generates text: greedy decode of a real model on the KV-cache decode design, every
decoder layer in Verilator, cycles per generated token simulated against the analytical model.

- generation: `hw.prompt_tokens` prompt tokens of a fixed English sentence, then `--tokens` greedy tokens.
  Every decoder layer is simulated (mase.compiler.generate, per layer: layer 0's design compiled once,
  run once per layer with that layer's weights and its golden input, checked bit-exact on its output;
  a 30-layer netlist would simulate too slowly); the final norm, lm_head and argmax on the host. The
  tokens must equal the golden model's; the text is printed.
- cycles per token at the generation's context (prompt + tokens) and at `--context` tokens (256): the
  decode design's cost per token is set mostly by its context (it drains its whole V cache and sends
  every position of its K cache, zero keys after the new one, for every token), so the second figure
  comes from a design of that context, layer 0 simulated for the tokens at positions 2 and 3, times
  the layers, plus the final norm's analytical latency. Each against `decode_model` at the same
  positions (target: within 5%); the model's figure with the cache full (position context - 1: no
  zero keys) is printed too.

    python benchmarks/bench_generate.py                          # smollm2-135m, mxint8, 8 + 4 tokens
    python benchmarks/bench_generate.py --quant mxint4 --tokens 8 --context 0   # no 256-token design
    python benchmarks/bench_generate.py --no-generate             # only the 256-token design (~5 min)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def context_cycles(model, cfg, context: int, out: Path) -> dict:
    """Layer 0 of the decode design of `context` tokens, simulated gated for 2 tokens after a 2-token
    prompt (positions 2 and 3), scaled to the model's layers (+ the final norm's analytical latency),
    against the model at those positions, and the model with the cache full."""
    import mase
    from mase.compiler.generate import (_latencies, _simulate, decode_graph, greedy_golden, layer_view,
                                        model_after_layers)
    from mase.compiler.params import choose_parameters, decode_model

    g = decode_graph(model, cfg.quant, context, cfg.hw, cfg.model.name)
    plan = choose_parameters(g, cfg.target, cfg.hw)
    _, vals = greedy_golden(model, g, list(range(3, 5)), 3, keep_all=True)
    view, vv = layer_view(g, 0, vals)
    man, runs = _simulate(view, plan, vv, out / "hw_decode_layer", out / "build", out / "sim", 2, mase.__version__, "bench",
                          cfg.target, 1, None)
    lat = _latencies(runs[0], 2)
    full, tail = model_after_layers(g, plan, context)
    sim = g.layers * (sum(lat) / len(lat)) + tail
    whole = sum(decode_model(g, plan, 3 + i)["latency_cycles"] for i in range(len(lat))) / len(lat)
    lanes = {n.op if n.op != "quantize" else "v_cache": (plan.nodes[n.name].in_par, plan.nodes[n.name].out_par)
             for n in g.nodes if n.layer == 0 and (n.op in ("matmul_qk", "matmul_sv") or n.attrs.get("along"))}
    return {"context": context, "positions": [2 + i for i in range(len(lat))], "layer_cycles_sim": lat,
            "cycles_per_token_sim": sim, "cycles_per_token_model": whole, "cycles_per_token_model_full": full,
            "bit_exact": all(r["passed"] for r in runs), "error": (whole - sim) / sim, "clock_mhz": plan.clock_mhz,
            "attention_lanes": lanes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--quant", default="mxint8")
    ap.add_argument("--target", default="sim")
    ap.add_argument("--prompt-tokens", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=4)
    ap.add_argument("--context", type=int, default=256, help="second design's context (0: skip)")
    ap.add_argument("--out", default="bench_generate_out")
    ap.add_argument("--jobs", type=int, default=2, help="decoder layers simulated at once")
    ap.add_argument("--no-generate", action="store_true", help="skip the generation (only the --context design)")
    a = ap.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    import mase
    from mase.compiler.generate import generate
    from mase.compiler.stages import DEFAULT_PROMPT
    from mase.config import compose
    from mase.models import load_model
    from mase.quantize import quantize_model
    from mase.report import progress

    progress.set_enabled(False)
    con = Console()
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = compose([f"+model={a.model}", f"quant={a.quant}", f"target={a.target}"])
    t0 = time.perf_counter()
    model, tok = load_model(cfg.model)
    quantize_model(model, cfg.quant, a.model, tok, cfg.eval)
    ids = list(tok.encode(DEFAULT_PROMPT))[: a.prompt_tokens]
    con.print(f"{a.model} {a.quant}: prompt {tok.decode(ids)!r} ({len(ids)} tokens), {a.tokens} greedy tokens")

    def step(layer, rec):
        con.print(f"  layer {layer}: bit-exact {rec['bit_exact']}, {rec['cycles_per_token']:.0f} cycles/token "
                  f"({time.perf_counter() - t0:.0f} s)")

    res, rows = None, []
    if not a.no_generate:
        res = generate(model, tok, cfg.quant, cfg.target, cfg.hw, out / "gen", ids, a.tokens, mase.__version__,
                       "bench", a.model, None, per_layer=True, progress=step, jobs=a.jobs)
        rows.append({"context": res["context"], "cycles_per_token_sim": res["cycles_per_token"],
                     "cycles_per_token_model": res["analytical_cycles_per_token"], "error": res["analytical_error"],
                     "clock_mhz": res["clock_mhz"]})
    if a.context:
        rows.append(context_cycles(model, cfg, a.context, out / f"ctx{a.context}"))
    t = Table(title=f"{a.model} {a.quant}: decode cycles per generated token (batch 1), simulated vs analytical")
    for c in ("context", "simulated", "analytical", "error", "tokens/s", "analytical, cache full"):
        t.add_column(c, justify="right")
    for r in rows:
        full = r.get("cycles_per_token_model_full")
        t.add_row(str(r["context"]), f"{r['cycles_per_token_sim']:,.0f}", f"{r['cycles_per_token_model']:,.0f}",
                  f"{100 * r['error']:+.1f}%", f"{r['clock_mhz'] * 1e6 / r['cycles_per_token_sim']:,.1f}",
                  f"{full:,.0f}" if full else "")
    con.print(t)
    if res is None:
        rec = {"cycles": rows, "seconds": time.perf_counter() - t0}
        (out / "bench_generate.json").write_text(json.dumps(rec, indent=1, default=str))
        con.print(f"{time.perf_counter() - t0:.0f} s; {out / 'bench_generate.json'}")
        return 0 if all(r.get("bit_exact", True) for r in rows) else 1
    con.print(f"text (hardware): {res['text']!r}")
    con.print(f"tokens hw {res['tokens_hw']} golden {res['tokens_golden']}: match {res['match']}, every layer "
              f"bit-exact {res['bit_exact']}; software (prefill numerics) {res['tokens_sw']} "
              f"({'same' if res['match_sw'] else 'differ'}), float {res['tokens_float']}")
    rec = {"generate": res, "cycles": rows, "seconds": time.perf_counter() - t0}
    (out / "bench_generate.json").write_text(json.dumps(rec, indent=1, default=str))
    con.print(f"{time.perf_counter() - t0:.0f} s; {out / 'bench_generate.json'}")
    return 0 if res["match"] and res["bit_exact"] and all(r.get("bit_exact", True) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
