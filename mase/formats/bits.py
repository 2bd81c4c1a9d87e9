"""Exact float32 bit tricks: floor(log2|x|) from the exponent field and 2**e built from bits.

Both are exact by construction (no transcendental functions). `torch.log2` is not: it rounds up for
values a few ULP below a power of two, which would give a whole block the wrong scale.
"""

from __future__ import annotations

import torch


def floor_log2(x: torch.Tensor) -> torch.Tensor:
    """floor(log2|x|) as int32 for normal float32 x; zeros and subnormals give -127.

    Callers only use this where anything below 2**-126 is clamped anyway (E8M0 floor -127, element
    grids far coarser), so the subnormal shortcut never changes a result.
    """
    return ((x.view(torch.int32) >> 23) & 0xFF) - 127


def exp2i(e: torch.Tensor) -> torch.Tensor:
    """float32 2**e for integer e in [-149, 127], exact (subnormals included)."""
    e = e.to(torch.int32)
    normal = (e + 127).clamp(min=0) << 23
    sub = torch.ones_like(e) << (e + 149).clamp(0, 22)
    return torch.where(e >= -126, normal, sub).view(torch.float32)
