"""Fake-quantization throughput of every format on a 4096x4096 fp32 tensor.

Side by side in one run: mase, torchao's MX emulation (`MXTensor.to_mx(...).dequantize()`, same
tensor) and `x.clone()` as the memory-bandwidth limit. GB/s counts fp32 input bytes. The first call
of each format (torch.compile of its kernel) is timed apart and excluded from the throughput.
Prints a table, then last one line: `ratio_vs_torchao mxfp4=<r> mxfp8=<r>`.

    python benchmarks/bench_formats.py [--size 4096] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from rich.console import Console
from rich.table import Table

from mase.formats import get_format

FORMATS = ["mxint8", "mxint6", "mxint4", "mxint2", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2",
           "mxfp6_e2m3", "mxfp4_e2m1", "fixed8", "bf16"]
TORCHAO = {"mxfp8_e4m3": "float8_e4m3fn", "mxfp8_e5m2": "float8_e5m2", "mxfp6_e3m2": "fp6_e3m2",
           "mxfp6_e2m3": "fp6_e2m3", "mxfp4_e2m1": "float4_e2m1fn_x2"}


def throughput(fn, nbytes: int, repeats: int) -> tuple[float, float]:
    """(first-call seconds, median GB/s of the following calls)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, nbytes / statistics.median(times) / 1e9


def torchao_fn(name: str, x: torch.Tensor):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchao.prototype.mx_formats.mx_tensor import MXTensor
    except Exception:
        return None
    dtype = getattr(torch, TORCHAO[name], TORCHAO[name])
    return lambda: MXTensor.to_mx(x, dtype, 32).dequantize(torch.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    torch.manual_seed(0)
    x = torch.randn(args.size, args.size)
    nbytes = x.numel() * 4
    _, clone_gbs = throughput(lambda: x.clone(), nbytes, args.repeats)

    table = Table(title=f"fake-quantize {args.size}x{args.size} fp32, {torch.get_num_threads()} threads")
    for col in ("format", "bits/elem", "first call s", "mase GB/s", "% of clone", "torchao GB/s", "mase/torchao"):
        table.add_column(col, justify="right")
    table.add_row("x.clone()", "32", "", f"{clone_gbs:.2f}", "100%", "", "")
    ratios = {}
    for name in FORMATS:
        fmt = get_format(name)
        first, gbs = throughput(lambda: fmt.fake_quantize(x), nbytes, args.repeats)
        ref = torchao_fn(name, x) if name in TORCHAO else None
        ref_gbs = throughput(ref, nbytes, args.repeats)[1] if ref else None
        ratio = gbs / ref_gbs if ref_gbs else None
        ratios[name] = ratio
        table.add_row(name, f"{fmt.bits_per_element:g}", f"{first:.2f}", f"{gbs:.2f}", f"{100 * gbs / clone_gbs:.0f}%",
                      f"{ref_gbs:.2f}" if ref_gbs else "-", f"{ratio:.2f}x" if ratio else "-")
    Console(width=120).print(table)

    def fmt_ratio(name: str) -> str:
        return f"{ratios[name]:.2f}" if ratios.get(name) else "n/a"

    print(f"ratio_vs_torchao mxfp4={fmt_ratio('mxfp4_e2m1')} mxfp8={fmt_ratio('mxfp8_e4m3')}")


if __name__ == "__main__":
    main()
