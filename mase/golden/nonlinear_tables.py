"""Lookup tables of the non-linear cores, generated deterministically (integers only at the end).

Every table is a tuple of Python ints computed with float64 math and rounded half up
(floor(v + 0.5)); the golden model indexes these tuples and the RTL generator writes the same
numbers into SystemVerilog case statements, so software and hardware share one source.
"""

from __future__ import annotations

import math
from functools import lru_cache

# exp2: 2**(-r / 2**EXP_LUT_BITS) for r = 0 .. 2**EXP_LUT_BITS - 1, in Q.EXP_F (entry 0 is 2**EXP_F)
EXP_LUT_BITS = 8
EXP_F = 16
# log2(e) in Q.LOG2E_F
LOG2E_F = 14
LOG2E_Q = int(math.floor(math.log2(math.e) * 2**LOG2E_F + 0.5))

# gate functions (sigmoid for SiLU, Phi for GELU) on [-2**GATE_RANGE_LOG2, 2**GATE_RANGE_LOG2)
# with step 2**-GATE_LUT_FRAC, values in Q.GATE_F, linear interpolation between entries
GATE_RANGE_LOG2 = 4
GATE_LUT_FRAC = 4
GATE_F = 16
GATE_ENTRIES = 2 * (1 << (GATE_RANGE_LOG2 + GATE_LUT_FRAC)) + 1  # 513: both endpoints

# sine quarter wave: sin(2*pi*j / 2**ANGLE_BITS) for j = 0 .. 2**(ANGLE_BITS-2), in Q.TRIG_F
ANGLE_BITS = 12
TRIG_F = 16


def _rnd(v: float) -> int:
    return int(math.floor(v + 0.5))


@lru_cache(maxsize=None)
def exp2_table() -> tuple[int, ...]:
    n = 1 << EXP_LUT_BITS
    return tuple(_rnd(2.0 ** (EXP_F - r / n)) for r in range(n))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


GATE_FUNCS = {"silu": _sigmoid, "gelu": _phi}


@lru_cache(maxsize=None)
def gate_table(func: str) -> tuple[int, ...]:
    """Entry i is gate(-2**GATE_RANGE_LOG2 + i * 2**-GATE_LUT_FRAC) in Q.GATE_F, i = 0..512."""
    f = GATE_FUNCS[func]
    lo = -(1 << GATE_RANGE_LOG2)
    step = 2.0**-GATE_LUT_FRAC
    return tuple(_rnd(f(lo + i * step) * 2**GATE_F) for i in range(GATE_ENTRIES))


@lru_cache(maxsize=None)
def sin_quarter_table() -> tuple[int, ...]:
    q = 1 << (ANGLE_BITS - 2)
    return tuple(_rnd(math.sin(2 * math.pi * j / (1 << ANGLE_BITS)) * 2**TRIG_F) for j in range(q + 1))


def rope_freq_table(head_dim: int, base: float, phase_f: int = 32) -> tuple[int, ...]:
    """Rotation per position of pair i, in turns, Q0.phase_f: inv_freq_i / (2*pi), inv_freq_i =
    base**(-2i/head_dim). Only the fraction of a turn matters, so the product pos * freq is taken
    modulo 2**phase_f in hardware (the integer turns fall off the top)."""
    out = []
    for i in range(head_dim // 2):
        inv = 1.0 / (base ** (2 * i / head_dim))
        out.append(_rnd(inv / (2 * math.pi) * 2**phase_f) % (1 << phase_f))
    return tuple(out)
