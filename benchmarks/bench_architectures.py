"""The figures of every architecture on every target (issue 14 §3), one row per (model, target, hw.fold):
LUT / FF / DSP / BRAM, fmax, tokens/s (prefill, decode at batch 1, batched decode), the off-chip
bandwidth the design needs against what the target has, and the energy model's energy per token.

Each row is a real `mase` run into <out>/<model>_<target>_fold<f>/ (`stages=[quantize,emit,hw_report]`
by default: the analytical figures, seconds a row). `--synth` adds Yosys (resources become Yosys counts),
`--pnr` Yosys and nextpnr (fmax measured, tokens/s at min(target clock, fmax)); both take minutes to
half an hour a row on 2 cores. Every figure's source is printed beside it (analytical, yosys, nextpnr,
simulation). A row that does not fit its target prints the one-line reason instead.

    python benchmarks/bench_architectures.py                          # tiny-llama, tiny-opt, smollm2-135m x ecp5-85k, u250 x auto, 1
    python benchmarks/bench_architectures.py --models tiny-llama --targets ecp5-85k --folds 1 --pnr
Writes <out>/bench_architectures.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def one(out: Path, model: str, target: str, fold: str, quant: str, stages: list[str], extra: list[str]) -> dict:
    from mase.config import MaseError, compose
    from mase.pipeline import run

    folder = out / f"{model}_{target}_fold{fold}"
    row = {"model": model, "target": target, "fold": fold, "quant": quant, "folder": str(folder)}
    t0 = time.perf_counter()
    try:
        cfg = compose([f"+model={model}", f"quant={quant}", f"target={target}", f"hw.fold={fold}", "progress=false",
                       *extra])
        run(cfg, folder, stages=stages)
    except MaseError as exc:
        row["error"] = str(exc).splitlines()[0]
        return row
    hw = json.loads((folder / "hw" / "hw_report.json").read_text())
    res, tok = hw.get("resources") or {}, hw.get("tokens_per_s") or {}
    bw = hw.get("offchip_bandwidth_gbps") or {}
    row.update({
        "architecture": hw.get("architecture"), "lut": res.get("LUT"), "ff": res.get("FF"), "dsp": res.get("DSP"),
        "bram": res.get("BRAM"), "uram": res.get("URAM"), "resources_source": hw.get("resources_source"),
        "clock_mhz": hw.get("clock_mhz"), "clock_source": hw.get("clock_source"),
        "prefill_tok_s": tok.get("prefill"), "decode_tok_s": tok.get("decode"),
        "decode_batched_tok_s": tok.get("decode_batched"),
        "cycles_source": (hw.get("cycles") or {}).get("source"),
        "decode_source": (hw.get("cycles") or {}).get("decode_source"),
        "bandwidth_needed_gbps": bw.get("needed"), "bandwidth_available_gbps": bw.get("available"),
        "energy_uj_per_token": (hw.get("energy") or {}).get("energy_per_token_uj"),
        "seconds": time.perf_counter() - t0,
    })
    return row


def table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="mase architectures x targets (mxint4)")
    for c in ("model", "target", "hw.fold", "architecture", "LUT", "FF", "DSP", "BRAM", "res. from", "clock MHz",
              "prefill tok/s", "decode b1 tok/s", "batched tok/s", "GB/s need / have", "uJ/token"):
        t.add_column(c, overflow="fold")

    def f(v, fmt="{:,.0f}"):
        return "-" if v is None else fmt.format(v)

    for r in rows:
        if "error" in r:
            t.add_row(r["model"], r["target"], r["fold"], f"[red]{r['error']}[/red]", *[""] * 11)
            continue
        arch = (r["architecture"] or "-").split(";")[0].replace(", weights", ";")  # the buffer's size is in the json
        t.add_row(r["model"], r["target"], r["fold"], arch, f(r["lut"]), f(r["ff"]), f(r["dsp"]),
                  f(r["bram"], "{:,.1f}"), r["resources_source"] or "-",
                  f"{f(r['clock_mhz'], '{:.1f}')} ({r['clock_source']})", f(r["prefill_tok_s"]),
                  f(r["decode_tok_s"]), f(r["decode_batched_tok_s"]),
                  f"{f(r['bandwidth_needed_gbps'], '{:.2f}')} / {f(r['bandwidth_available_gbps'], '{:g}')}",
                  f(r["energy_uj_per_token"], "{:,.1f}"))
    Console(width=220).print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench_architectures"))
    ap.add_argument("--models", nargs="+", default=["tiny-llama", "tiny-opt", "smollm2-135m"])
    ap.add_argument("--targets", nargs="+", default=["ecp5-85k", "u250"])
    ap.add_argument("--folds", nargs="+", default=["auto", "1"], help="hw.fold values (0, N, auto)")
    ap.add_argument("--quant", default="mxint4")
    ap.add_argument("--synth", action="store_true", help="add Yosys: resources from synthesis")
    ap.add_argument("--pnr", action="store_true", help="add Yosys and nextpnr: fmax measured (minutes a row)")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run, e.g. hw.prompt_tokens=16")
    a = ap.parse_args()
    stages = ["quantize", "emit"] + (["synth"] if a.synth or a.pnr else []) + (["pnr"] if a.pnr else []) + ["hw_report"]
    a.out.mkdir(parents=True, exist_ok=True)
    rows = [one(a.out, m, t, f, a.quant, stages, a.overrides) for m in a.models for t in a.targets for f in a.folds]
    table(rows)
    rec = {"rows": rows, "stages": stages, "load_avg": os.getloadavg()}
    (a.out / "bench_architectures.json").write_text(json.dumps(rec, indent=1))
    print(f"wrote {a.out / 'bench_architectures.json'} (load average {rec['load_avg'][0]:.1f})")


if __name__ == "__main__":
    main()
