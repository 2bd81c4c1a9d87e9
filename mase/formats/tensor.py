"""Quantized tensors and the reshaping of any axis into blocks of k elements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from .mx import MXFormat


@dataclass(frozen=True)
class BlockLayout:
    """How a tensor was cut into blocks, so that the cut can be undone."""

    shape: tuple[int, ...]
    axis: int  # normalised, non-negative
    dtype: torch.dtype


def check_input(x: Any, axis: int) -> int:
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"expected a floating-point torch.Tensor (float32, bfloat16, float16, float64), got {got}")
    ndim = max(x.dim(), 1)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} out of range for a {x.dim()}-d tensor: choose one of {list(range(-ndim, ndim))}")
    return axis % ndim


def to_blocks(x: torch.Tensor, k: int, axis: int) -> tuple[torch.Tensor, BlockLayout]:
    """float32 view of x with `axis` last, zero-padded to a multiple of k, shaped (..., n/k, k)."""
    axis = check_input(x, axis)
    layout = BlockLayout(tuple(x.shape), axis, x.dtype)
    xf = x.reshape(1) if x.dim() == 0 else x
    xf = xf.to(torch.float32).movedim(axis, -1)
    n = xf.shape[-1]
    pad = (-n) % k
    if pad:
        xf = F.pad(xf, (0, pad))  # zeros never change a block's max
    return xf.reshape(*xf.shape[:-1], (n + pad) // k, k), layout


def from_blocks(blocks: torch.Tensor, layout: BlockLayout) -> torch.Tensor:
    """Undo to_blocks: drop the padding, put the axis back, restore the dtype."""
    flat = blocks.reshape(*blocks.shape[:-2], blocks.shape[-2] * blocks.shape[-1])
    n = layout.shape[layout.axis] if layout.shape else 1
    out = flat[..., :n].movedim(-1, layout.axis if layout.shape else 0)
    return out.reshape(layout.shape).to(layout.dtype)


@dataclass(frozen=True)
class QuantizedTensor:
    """Integer element codes and uint8 E8M0 scales of an MX-quantized tensor.

    `elements` has shape (..., n_blocks, k) with the quantized axis moved last and padded;
    `scales` has shape (..., n_blocks). `layout` restores the original shape on dequantize.
    """

    format: Any
    elements: torch.Tensor
    scales: torch.Tensor
    layout: BlockLayout

    def dequantize(self) -> torch.Tensor:
        return self.format.dequantize(self)

    def integers(self) -> torch.Tensor:
        """Exact signed integers I (int64): value = I * 2**(scale - 127 + element.lsb_exp)."""
        return self.format.element.to_int(self.elements)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.layout.shape
