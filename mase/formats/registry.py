"""Format names -> format objects: the one entry point the rest of mase uses."""

from __future__ import annotations

import re

import torch

from .elements import ELEMENTS
from .fixed import FixedFormat, FloatFormat
from .mx import MXFormat

BLOCK_SIZES = (8, 16, 32, 64)

_MX_ELEMENTS = {
    **{f"mxint{m}": f"int{m}" for m in range(2, 9)},
    "mxfp8_e4m3": "fp8_e4m3",
    "mxfp8_e5m2": "fp8_e5m2",
    "mxfp6_e3m2": "fp6_e3m2",
    "mxfp6_e2m3": "fp6_e2m3",
    "mxfp4_e2m1": "fp4_e2m1",
}
ALIASES = {"mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e2m3", "mxfp4": "mxfp4_e2m1"}
_FIXED_RE = re.compile(r"fixed(\d+)_(\d+)")

FORMAT_NAMES = (*_MX_ELEMENTS, *ALIASES, "fixed8", "fixedW_F", "bf16", "fp32")


def get_format(name: str, block_size: int = 32):
    """Return the format called `name`; MX formats share one scale per `block_size` elements."""
    if not isinstance(name, str):
        raise ValueError(f"format name must be a string, got {type(name).__name__}; valid: {', '.join(FORMAT_NAMES)}")
    key = ALIASES.get(name.lower(), name.lower())
    if key in _MX_ELEMENTS:
        if block_size not in BLOCK_SIZES:
            raise ValueError(f"block size {block_size!r} not supported: choose one of {', '.join(map(str, BLOCK_SIZES))}")
        return MXFormat(key, ELEMENTS[_MX_ELEMENTS[key]], block_size)
    if key == "fixed8":
        return FixedFormat("fixed8", 8)
    if m := _FIXED_RE.fullmatch(key):
        width, frac = int(m[1]), int(m[2])
        if not 2 <= width <= 32 or frac >= 64:
            raise ValueError(f"fixed-point format {name!r}: width must be 2..32 and fraction bits < 64 (e.g. fixed16_8)")
        return FixedFormat(key, width, frac)
    if key == "bf16":
        return FloatFormat("bf16", torch.bfloat16)
    if key == "fp32":
        return FloatFormat("fp32", torch.float32)
    raise ValueError(f"unknown format {name!r}: valid names are {', '.join(FORMAT_NAMES)} (fixedW_F as e.g. fixed16_8)")
