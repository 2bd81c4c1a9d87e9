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


def rope_freq_q(inv_freq, phase_f: int = 32) -> tuple[int, ...]:
    """Rotation per position of each pair, in turns, Q0.phase_f: inv_freq_i / (2*pi). Only the
    fraction of a turn matters, so the product pos * freq is taken modulo 2**phase_f in hardware
    (the integer turns fall off the top)."""
    return tuple(_rnd(float(v) / (2 * math.pi) * 2**phase_f) % (1 << phase_f) for v in inv_freq)


def rope_freq_table(head_dim: int, base: float, phase_f: int = 32) -> tuple[int, ...]:
    """Plain RoPE in float64, inv_freq_i = base**(-2i/head_dim) (core tests; models use rope_freqs)."""
    return rope_freq_q([1.0 / (base ** (2 * i / head_dim)) for i in range(head_dim // 2)], phase_f)


def rope_freqs_hex(freqs: tuple[int, ...], phase_f: int = 32) -> str:
    """The FREQS parameter of mx_rope: 8 hex digits a pair, the last pair first (a hex literal with
    pair 0 in the low bits)."""
    return "".join(f"{f:0{phase_f // 4}x}" for f in reversed(freqs))


# RoPE types whose inv_freq transformers recomputes from the sequence length in the forward pass
ROPE_SEQ_DEPENDENT = ("dynamic", "longrope")
_ROPE_FIX = "use a RoPE type with fixed frequencies and no cos/sin scale (default, linear, llama3, proportional)"


def rope_freqs(rotary, phase_f: int = 32) -> tuple[int, ...]:
    """The FREQ table of a Hugging Face rotary embedding module, from inv_freq as transformers
    computes it for the module's config (float32, as the model uses it): any theta, and every RoPE
    type that only changes the frequencies. Types that scale cos/sin (attention factor != 1: yarn,
    longrope) or depend on the sequence length (dynamic) raise a one-line MaseError."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    from mase.errors import MaseError

    rtype = getattr(rotary, "rope_type", "default")
    where = f"layer 0: operator RoPE of type {rtype!r} ({type(rotary).__name__})"
    if not isinstance(rtype, str):
        raise MaseError(f"{where}: per-layer RoPE types have no hardware core; {_ROPE_FIX}")
    if any(k in rtype for k in ROPE_SEQ_DEPENDENT):
        raise MaseError(f"{where} changes its frequencies with the sequence length, the rope core has a fixed "
                        f"table; {_ROPE_FIX}")
    init = (getattr(type(rotary), "compute_default_rope_parameters", None) if rtype == "default" else None) \
        or ROPE_INIT_FUNCTIONS.get(rtype)
    if init is None:
        raise MaseError(f"{where} is unknown to transformers' ROPE_INIT_FUNCTIONS; {_ROPE_FIX}")
    inv, attention_factor = init(rotary.config)
    if float(attention_factor) != 1.0:
        raise MaseError(f"{where} scales cos/sin by {float(attention_factor):.6g}, the rope core does not; {_ROPE_FIX}")
    conf = rotary.config
    head_dim = getattr(conf, "head_dim", None) or conf.hidden_size // conf.num_attention_heads
    if inv.numel() != head_dim // 2:
        raise MaseError(f"{where} rotates {inv.numel()} of the {head_dim // 2} pairs of a head (partial rotary); "
                        f"the rope core rotates all of them")
    return rope_freq_q(inv.float().tolist(), phase_f)
