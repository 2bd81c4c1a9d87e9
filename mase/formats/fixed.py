"""Baselines: signed fixed point (per-tensor power-of-two scale, or explicit W.F) and IEEE floats."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from . import kernels
from .bits import floor_log2
from .tensor import BlockLayout, QuantizedTensor, check_input


def _work_dtype(width: int) -> torch.dtype:
    # float32 holds every code exactly up to 24 bits; wider codes need float64
    return torch.float32 if width <= 24 else torch.float64


def _rounded_codes(x: torch.Tensor, scale: torch.Tensor, limit: float) -> torch.Tensor:
    """Round x * scale half-to-even and saturate symmetrically; NaN -> 0 (no NaN in hardware).

    `scale` is a power of two, so the multiply is exact and the only rounding is torch.round.
    """
    return torch.round(torch.nan_to_num(x.to(scale.dtype) * scale, nan=0.0)).clamp(-limit, limit)


def _finite_amax(x: torch.Tensor) -> torch.Tensor:
    mag = x.abs().to(torch.float32)
    return torch.where(torch.isfinite(mag), mag, 0.0).amax()


def _round_to_bf16(x: torch.Tensor) -> torch.Tensor:
    """float32 -> bfloat16 -> float32 in integer arithmetic (RNE), the same bits as torch's cast.

    Written out because Inductor folds a plain down-and-up cast away in compiled code.
    """
    bits = x.view(torch.int32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & -65536
    return torch.where(torch.isnan(x), x, rounded.view(torch.float32))


def _fake_fixed(x: torch.Tensor, scale: torch.Tensor, limit: float) -> torch.Tensor:
    return _rounded_codes(x, scale, limit) / scale


@dataclass(frozen=True)
class FixedFormat:
    """Signed two's complement fixed point of `width` bits, symmetric range (-2**(W-1)+1 .. 2**(W-1)-1).

    `frac_bits=None` is the paper's 8-bit fixed-point baseline: one power-of-two scale per tensor
    (Q1.(W-2) codes times 2**exp), the exponent chosen from the largest finite magnitude exactly as
    one MX block with emax = 0 would, so the two baselines differ only in how many values share a
    scale. A streaming datapath cannot look at a whole tensor first, so activations use a static
    exponent (`scale_exp`, frozen by calibration: `frozen(amax)`); without it the exponent is taken
    from each tensor (dynamic: weights, biases, and uncalibrated use).
    """

    name: str
    width: int
    frac_bits: int | None = None
    block_size: int = 0  # not blocked; kept so every format answers the same attributes
    scale_exp: int | None = None  # static per-tensor exponent (calibrated); None = from each tensor

    @property
    def static(self) -> bool:
        return self.scale_exp is not None

    def frozen(self, amax: float) -> "FixedFormat":
        """This format with its exponent frozen for a calibration max |x| (the dynamic rule's exponent)."""
        if self.frac_bits is not None:
            raise ValueError(f"{self.name} has explicit fraction bits; only per-tensor scales are calibrated")
        exp = 0 if not amax > 0 else int(floor_log2(torch.tensor([amax], dtype=torch.float32)).clamp(-127, 127))
        return replace(self, scale_exp=exp)

    @property
    def bits_per_element(self) -> float:
        return float(self.width)

    def _frac_bits_for(self, x: torch.Tensor) -> int:
        if self.frac_bits is not None:
            return self.frac_bits
        if self.scale_exp is not None:
            return self.width - 2 - self.scale_exp
        if x.numel() == 0:
            return self.width - 2
        amax = kernels.run(("finite_amax",), _finite_amax, x.detach().reshape(-1)).reshape(1)
        if amax == 0:
            return self.width - 2
        exp = int(floor_log2(amax).clamp(-127, 127))
        return self.width - 2 - exp

    def exponent(self, x: torch.Tensor) -> int:
        """The per-tensor exponent used for x (codes Q1.(W-2) * 2**exp): static, or from x's max."""
        if self.frac_bits is not None:
            raise ValueError(f"{self.name} has explicit fraction bits, no per-tensor exponent")
        return self.width - 2 - self._frac_bits_for(x)

    @property
    def limit(self) -> int:
        return (1 << (self.width - 1)) - 1

    def _scale(self, frac_bits: int) -> torch.Tensor:
        return torch.tensor(2.0**frac_bits, dtype=_work_dtype(self.width))

    def quantize(self, x: torch.Tensor, axis: int = -1) -> QuantizedTensor:
        check_input(x, axis)
        f = self._frac_bits_for(x)
        codes = _rounded_codes(x, self._scale(f), self.limit).to(torch.int64)
        # scales holds the per-tensor E8M0 byte of 2**-f (fixed8), or nothing for explicit W.F
        scales = (
            torch.tensor([127 - f], dtype=torch.uint8)
            if self.frac_bits is None
            else torch.zeros(0, dtype=torch.uint8)
        )
        return QuantizedTensor(self, codes, scales, BlockLayout(tuple(x.shape), 0, x.dtype))

    def dequantize(self, qt: QuantizedTensor) -> torch.Tensor:
        f = self.frac_bits if self.frac_bits is not None else 127 - int(qt.scales[0])
        return (qt.elements.to(_work_dtype(self.width)) / self._scale(f)).to(qt.layout.dtype)

    def fake_quantize(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        check_input(x, axis)
        flat = x.reshape(-1)
        # one kernel per width: the scale is an argument, so calibrated formats share it
        y = kernels.run(("fixed", self.width), lambda t, s: _fake_fixed(t, s, float(self.limit)), flat,
                        self._scale(self._frac_bits_for(x)))
        return y.reshape(x.shape).to(x.dtype)


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
        if x.dtype != torch.float32:
            return x.to(self.dtype).to(x.dtype)
        return kernels.run(self, _round_to_bf16, x.reshape(-1)).reshape(x.shape)
