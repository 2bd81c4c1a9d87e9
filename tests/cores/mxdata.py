"""Random MX stimulus with the numerics library's edge cases, and beat packing for the core tests."""

from __future__ import annotations

import torch

from mase.eda import pack_fields
from mase.formats import get_format
from mase.golden import elem_spec

FORMATS = {  # name -> (WIDTH, EBITS)
    "mxint2": (2, 0), "mxint4": (4, 0), "mxint8": (8, 0), "mxfp4": (4, 2), "mxfp6_e2m3": (6, 2),
    "mxfp6_e3m2": (6, 3), "mxfp8_e4m3": (8, 4), "mxfp8_e5m2": (8, 5), "fixed8": (8, 0),
}


def random_floats(rows: int, n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """Gaussian rows with per-block magnitudes over a wide range, zero blocks, huge outliers and
    values on rounding ties."""
    x = torch.randn(rows, n, generator=gen) * torch.exp2(torch.randint(-12, 12, (rows, n // k), generator=gen)
                                                          .float()).repeat_interleave(k, -1)
    blocks = x.view(rows, n // k, k)
    flat = blocks.reshape(-1, k)
    if flat.shape[0] >= 4:
        flat[0] = 0.0                                   # a zero block
        flat[1, 0] = 1e30                                # one huge value: the rest underflows
        flat[2] = torch.arange(k).float() * 0.25 + 0.125  # ties
        flat[3] = -flat[3].abs()                          # all negative
    return blocks.reshape(rows, n)


def random_quantized(name: str, rows: int, n: int, k: int, gen: torch.Generator):
    """(codes int64 (rows, n/k, k), scale bytes int64 (rows, n/k)) of quantized random floats, with a
    quarter of the blocks replaced by uniformly random codes and scale bytes (extremes included)."""
    q = get_format(name, k).quantize(random_floats(rows, n, k, gen))
    width, _ = FORMATS[name]
    codes = q.elements.to(torch.int64) & ((1 << width) - 1)
    scales = q.scales.to(torch.int64)
    rnd = torch.rand(scales.shape, generator=gen) < 0.25
    codes = torch.where(rnd.unsqueeze(-1), torch.randint(0, 1 << width, codes.shape, generator=gen), codes)
    scales = torch.where(rnd, torch.randint(0, 255, scales.shape, generator=gen), scales)
    flat = scales.reshape(-1)
    if flat.numel() >= 3:
        flat[-1], flat[-2] = 0, 254
    return codes, scales


def block_beats(codes: torch.Tensor, scales: torch.Tensor, width: int, par: int) -> list[int]:
    """Beats {scale, par elements} of blocks in order (codes (..., nb, k), scales (..., nb))."""
    k = codes.shape[-1]
    c = codes.reshape(-1, k).tolist()
    s = scales.reshape(-1).tolist()
    beats = []
    for blk, sc in zip(c, s):
        for j in range(0, k, par):
            beats.append(pack_fields(blk[j:j + par], width) | (int(sc) << (par * width)))
    return beats


def to_int(name: str, codes: torch.Tensor) -> torch.Tensor:
    return elem_spec(get_format(name, 32) if name != "fixed8" else "fixed8").to_int(codes)
