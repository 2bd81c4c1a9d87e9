"""Baselines: signed fixed point (per-tensor power-of-two scale, or explicit W.F) and IEEE floats."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .bits import exp2i, floor_log2
from .tensor import BlockLayout, QuantizedTensor, check_input


def _fixed_codes(x: torch.Tensor, frac_bits: int, width: int) -> torch.Tensor:
    """Round x * 2**frac_bits half-to-even, saturate symmetrically; NaN -> 0 (no NaN in hardware)."""
    limit = (1 << (width - 1)) - 1
    scaled = torch.nan_to_num(x.to(torch.float64) * 2.0**frac_bits, nan=0.0, posinf=limit, neginf=-limit)
    return torch.round(scaled).clamp(-limit, limit).to(torch.int64)


@dataclass(frozen=True)
class FixedFormat:
    """Signed two's complement fixed point of `width` bits, symmetric range (-2**(W-1)+1 .. 2**(W-1)-1).

    `frac_bits=None` is the paper's 8-bit fixed-point baseline: one power-of-two scale per tensor,
    chosen from the tensor's largest finite magnitude exactly as one MX block with emax = 0 would
    (Q1.(W-2) codes times 2**exp), so the two baselines differ only in how many values share a scale.
    """

    name: str
    width: int
    frac_bits: int | None = None
    block_size: int = 0  # not blocked; kept so every format answers the same attributes

    @property
    def bits_per_element(self) -> float:
        return float(self.width)

    def _frac_bits_for(self, x: torch.Tensor) -> int:
        if self.frac_bits is not None:
            return self.frac_bits
        finite = x[torch.isfinite(x)]
        amax = finite.abs().max().to(torch.float32) if finite.numel() else torch.tensor(0.0)
        if amax == 0:
            return self.width - 2
        exp = int(floor_log2(amax.reshape(1)).clamp(-127, 127))
        return self.width - 2 - exp

    def quantize(self, x: torch.Tensor, axis: int = -1) -> QuantizedTensor:
        check_input(x, axis)
        f = self._frac_bits_for(x)
        codes = _fixed_codes(x, f, self.width)
        # scales holds the per-tensor E8M0 byte of 2**-f (fixed8), or nothing for explicit W.F
        scales = (
            torch.tensor([127 - f], dtype=torch.uint8)
            if self.frac_bits is None
            else torch.zeros(0, dtype=torch.uint8)
        )
        return QuantizedTensor(self, codes, scales, BlockLayout(tuple(x.shape), 0, x.dtype))

    def dequantize(self, qt: QuantizedTensor) -> torch.Tensor:
        f = self.frac_bits if self.frac_bits is not None else 127 - int(qt.scales[0])
        return (qt.elements.to(torch.float64) * 2.0**-f).to(qt.layout.dtype)

    def fake_quantize(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        return self.dequantize(self.quantize(x, axis))


@dataclass(frozen=True)
class FloatFormat:
    """bf16 (round to nearest even) or fp32 (pass-through); elements are the IEEE bit patterns."""

    name: str
    dtype: torch.dtype
    block_size: int = 0

    @property
    def bits_per_element(self) -> float:
        return float(torch.finfo(self.dtype).bits)

    def quantize(self, x: torch.Tensor, axis: int = -1) -> QuantizedTensor:
        check_input(x, axis)
        y = x.to(self.dtype)
        view = torch.int16 if self.dtype == torch.bfloat16 else torch.int32
        return QuantizedTensor(self, y.view(view), torch.zeros(0, dtype=torch.uint8),
                               BlockLayout(tuple(x.shape), 0, x.dtype))

    def dequantize(self, qt: QuantizedTensor) -> torch.Tensor:
        return qt.elements.view(self.dtype).to(qt.layout.dtype)

    def fake_quantize(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        check_input(x, axis)
        if self.dtype == torch.float32 and x.dtype == torch.float32:
            return x
        return x.to(self.dtype).to(x.dtype)
