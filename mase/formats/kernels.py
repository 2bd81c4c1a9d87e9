"""Fused fake-quantization kernels: the eager math of a format compiled once with torch.compile.

Eager torch runs each of the ~10 elementwise steps as its own pass over memory; Inductor fuses them
into one C++ loop, which takes fake-quantization from ~0.1 GB/s to memory bandwidth. The compiled
kernel runs the very same torch ops, and tests check it against eager bit for bit. Small tensors
(below COMPILE_MIN_NUMEL) stay eager; so does a format whose compilation failed (no C++ compiler,
say), after one warning. MASE_EAGER=1 forces eager everywhere.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import torch
import torch._dynamo

COMPILE_MIN_NUMEL = 1 << 16
_compiled: dict[object, Callable] = {}
_failed: set[object] = set()
log = logging.getLogger(__name__)

# Every format compiles the same method with its own constants: one graph each, not a recompile storm.
for _name in ("recompile_limit", "cache_size_limit"):
    if hasattr(torch._dynamo.config, _name):
        setattr(torch._dynamo.config, _name, max(64, getattr(torch._dynamo.config, _name)))


def eager_only() -> bool:
    return os.environ.get("MASE_EAGER", "") not in ("", "0")


def run(key: object, fn: Callable[..., torch.Tensor], x: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """fn(x, *args), through a compiled copy of fn (cached under `key`) when that pays off.

    x is 2-D (rows, k) or 1-D; its first dimension is marked dynamic so tensors of every size share
    one kernel while the inner length stays static and vectorised.
    """
    if x.numel() < COMPILE_MIN_NUMEL or key in _failed or eager_only() or x.requires_grad:
        return fn(x, *args)
    kernel = _compiled.get(key)
    if kernel is None:
        kernel = _compiled[key] = torch.compile(fn, dynamic=False, fullgraph=True)
    torch._dynamo.mark_dynamic(x, 0)
    try:
        return kernel(x, *args)
    except Exception as err:  # correctness first: the eager path computes the same bits
        log.warning("torch.compile failed for %s (%s: %s); using eager torch", key, type(err).__name__, err)
        _failed.add(key)
        return fn(x, *args)
