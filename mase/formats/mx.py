"""MX block formats (OCP MX v1.0 "minimal" conversion, conventions of shared/MX_NUMERICS.md)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import kernels
from .bits import exp2i, floor_log2
from .elements import FloatElement, IntElement
from .tensor import QuantizedTensor, from_blocks, to_blocks

E8M0_NAN = 0xFF
E8M0_BIAS = 127


@dataclass(frozen=True)
class MXFormat:
    """k elements of type `element` sharing one E8M0 scale."""

    name: str
    element: FloatElement | IntElement
    block_size: int = 32

    @property
    def element_bits(self) -> int:
        return self.element.bits

    @property
    def bits_per_element(self) -> float:
        return self.element.bits + 8 / self.block_size

    def __str__(self) -> str:
        return f"{self.name}(k={self.block_size})"

    def _scale_exp(self, blocks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shared exponent per block (int32) and a mask of blocks holding NaN or Inf."""
        amax = blocks.abs().amax(dim=-1)
        bad = ~torch.isfinite(amax)  # amax propagates NaN and Inf
        # floor(log2 amax) from exponent bits; subnormal amax lands on the -127 clamp either way
        exp = (floor_log2(amax) - self.element.emax).clamp(-127, 127)
        exp = torch.where(amax == 0, torch.full_like(exp, -127), exp)
        return exp, bad

    def _quantize_blocks(self, blocks: torch.Tensor):
        exp, bad = self._scale_exp(blocks)
        scaled = blocks * exp2i(-exp).unsqueeze(-1)
        q = self.element.round(scaled)
        q = torch.where(bad.unsqueeze(-1), torch.zeros_like(q), q)
        return q, exp, bad

    def quantize(self, x: torch.Tensor, axis: int = -1) -> QuantizedTensor:
        blocks, layout = to_blocks(x, self.block_size, axis)
        q, exp, bad = self._quantize_blocks(blocks)
        scales = torch.where(bad, torch.full_like(exp, E8M0_NAN), exp + E8M0_BIAS).to(torch.uint8)
        return QuantizedTensor(self, self.element.encode(q), scales, layout)

    def fake_quantize(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        """quantize then dequantize, without materialising codes (same bits, less work)."""
        blocks, layout = to_blocks(x, self.block_size, axis)
        flat = blocks.reshape(-1, self.block_size)
        return from_blocks(kernels.run(self, self._fake_quantize_blocks, flat).reshape(blocks.shape), layout)

    def _fake_quantize_blocks(self, blocks: torch.Tensor) -> torch.Tensor:
        q, exp, bad = self._quantize_blocks(blocks)
        scale = torch.where(bad, torch.nan, exp2i(exp))
        return q * scale.unsqueeze(-1)

    def dequantize(self, qt: QuantizedTensor) -> torch.Tensor:
        values = self.element.decode(qt.elements)
        s = qt.scales.to(torch.int32)
        scale = torch.where(s == E8M0_NAN, torch.nan, exp2i(s - E8M0_BIAS))
        return from_blocks(values * scale.unsqueeze(-1), qt.layout)
