"""Batch-1 decode with every weight streamed from off-chip memory (issue 14, first part), in Verilator
with the testbench's memory model (mase/compiler/README.md "Off-chip weights"): the simulated tokens/s
against the off-chip roofline (weight bytes per token / bandwidth).

    python benchmarks/bench_offchip_decode.py --out /tmp/offchip_bench --gbps 0.25 0.5 1.0
    python benchmarks/bench_offchip_decode.py --out /tmp/offchip_bench --target ecp5-85k --gbps 0.1 --set hw.fold=1
    python benchmarks/bench_offchip_decode.py --out /tmp/b --target ecp5-85k --gbps 0.1 --set hw.fold=1 hw.dma_fifo_words=14

For each bandwidth: the KV-cache decode design of tiny-llama mxint4 (both decoder layers, hw.weights=
offchip) generates --tokens greedy tokens after a --prompt-token prompt (the generate stage's gated run:
each token enters when the previous one has left, as a host would feed it), bit-exact against the
golden model (and a second run with random memory stalls and port back-pressure); cycles per token =
the median over the generated tokens (steady state: the DMA channels read ahead across tokens, so
the first generated token finds its weights partly read during the prompt and the last one has none
left to read after it; the mean is printed too). Printed: each DMA channel's buffer (hw.dma_fifo_words,
default 512 bus words; a channel of a shorter region holds one pass of it) and their sum, the roofline, the
simulated cycles a token and their ratio, and the decode model's figure (params.decode_model) with its error.
Writes <out>/bench_offchip_decode.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path


def run(out: Path, gbps: float, tokens: int, prompt: int, model_name: str, quant: str, bus_bits: int,
        stall: bool, target: str = "sim", extra: list[str] | None = None) -> dict:
    from mase.compiler.generate import generate
    from mase.config import compose
    from mase.models import load_model

    cfg = compose([f"+model={model_name}", f"quant={quant}", f"target={target}", f"target.offchip_bandwidth_gbps={gbps}",
                   "target.offchip_memory_gb=1", "hw.weights=offchip", *([f"hw.bus_bits={bus_bits}"] if bus_bits else []),
                   *(extra or [])])
    model = load_model(cfg.model)[0]
    folder = out / f"{model_name}_{quant}_{target}_{gbps:g}gbps"
    t0 = time.perf_counter()
    res = generate(model, None, cfg.quant, cfg.target, cfg.hw, folder, list(range(3, 3 + prompt)), tokens, "0.1.0",
                   "bench", model_name, stall=(2, 30, 30) if stall else None)
    amap = json.loads((folder / "hw_decode" / "mem" / "mase_decode.offchip.json").read_text())
    plan = json.loads((folder / "hw_decode" / "params.json").read_text())["plan"]
    mem = plan["memory"]
    clock = plan["clock_mhz"] * 1e6
    weight_bytes = plan["offchip_weight_bits"] / 8
    roof_cycles = weight_bytes / mem["bytes_per_cycle"]
    cpt = res["cycles_per_token"]
    each = res["cycles_per_token_each"]
    steady = statistics.median(each)
    return {"model": model_name, "quant": quant, "bandwidth_gbps": mem["bandwidth_gbps"], "bus_bits": mem["bus_bits"],
            "latency_cycles": mem["latency_cycles"], "clock_mhz": plan["clock_mhz"],
            "weight_bytes_per_token": weight_bytes, "stream_bytes_per_token": amap["weight_bytes_per_token"],
            "dma_buffer_bytes": amap["dma_buffer_bytes"], "dma_fifo_words": mem["fifo_words"],
            "roofline_cycles_per_token": roof_cycles,
            "roofline_tokens_per_s": clock / roof_cycles, "sim_cycles_per_token": cpt,
            "sim_cycles_each": res["cycles_per_token_each"], "sim_tokens_per_s": clock / cpt,
            "fraction_of_roofline": roof_cycles / cpt, "sim_cycles_per_token_median": steady,
            "sim_tokens_per_s_median": clock / steady, "fraction_of_roofline_median": roof_cycles / steady, "analytical_cycles_per_token": res["analytical_cycles_per_token"],
            "bit_exact": res["bit_exact"], "match": res["match"],
            "runs": [{k: r[k] for k in ("stall", "bp", "cycles", "passed")} for r in res["runs"]],
            "seconds": time.perf_counter() - t0, "load_avg": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gbps", type=float, nargs="+", default=[0.5])
    ap.add_argument("--tokens", type=int, default=6)
    ap.add_argument("--prompt", type=int, default=3)
    ap.add_argument("--model", default="tiny-llama")
    ap.add_argument("--quant", default="mxint4")
    ap.add_argument("--bus-bits", type=int, default=0, help="hw.bus_bits (0: the target's, the sim target's 512)")
    ap.add_argument("--target", default="sim")
    ap.add_argument("--set", nargs="*", default=[], help="more config overrides, e.g. hw.fold=1")
    ap.add_argument("--no-stall", action="store_true", help="skip the run with random stalls")
    a = ap.parse_args(argv)
    rows = []
    for gbps in a.gbps:
        r = run(a.out, gbps, a.tokens, a.prompt, a.model, a.quant, a.bus_bits, not a.no_stall, a.target, a.set)
        rows.append(r)
        print(f"{a.model} {a.quant} {r['bandwidth_gbps']:g} GB/s ({r['bus_bits']}-bit bus, {r['latency_cycles']} cycles "
              f"latency), DMA buffers {r['dma_fifo_words']} words a channel ({r['dma_buffer_bytes']:,} bytes in all): roofline {r['roofline_cycles_per_token']:.0f} cycles/token ({r['roofline_tokens_per_s']:.0f} "
              f"tok/s), simulated median {r['sim_cycles_per_token_median']:.0f} ({r['sim_tokens_per_s_median']:.0f} tok/s) "
              f"= {100 * r['fraction_of_roofline_median']:.1f}% of the roofline (mean {r['sim_cycles_per_token']:.0f} = "
              f"{100 * r['fraction_of_roofline']:.1f}%: the first token finds weights read ahead, the last one "
              f"none left to read); decode model {r['analytical_cycles_per_token']:.0f} "
              f"({100 * (r['analytical_cycles_per_token'] / r['sim_cycles_per_token_median'] - 1):+.1f}%); bit-exact {r['bit_exact']}; "
              f"load {r['load_avg'][0]:.1f}", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bench_offchip_decode.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["bit_exact"] and r["match"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
