"""Golden model of the non-linear cores: bit-exact integer arithmetic, vectorised torch.

Every function here has two layers:

* ``*_int`` functions take and return integer codes (int64 tensors) and are exactly what the RTL in
  ``cores/<name>/`` computes, bit for bit (the pytest simulations compare against them);
* ``hw_*`` functions wrap them for float tensors: float -> fixed point (round half to even,
  symmetric saturation, as ``mase.formats`` fixed``W_F``), the integer algorithm, fixed -> float.
  These are what :mod:`mase.golden.nonlinear_patch` puts into a Hugging Face model.

Conventions shared by all cores (docs: ``cores/NONLINEAR.md``):

* a fixed-point value is a signed two's complement code ``c`` of ``W`` bits with ``F`` fraction bits,
  value ``c * 2**-F``; saturation is symmetric, to ``+-(2**(W-1) - 1)``;
* every internal re-scaling is ``round_shift``: add half an LSB then arithmetic shift right, i.e.
  round half up (towards +inf), which costs one adder in hardware;
* every multiply is exact (full-width product); rounding happens only where written.

Algorithms (one element per cycle per lane, per-row scalars by bit-serial units):

* softmax: max over the unmasked row; u = max - x; t = round(u * c log2(e)) in Q.8 (c: the part of
  1/sqrt(d) that is not a power of two, 1 otherwise; see split_scaling);
  exp(-u) = EXP2[t mod 256] >> (t div 256) with a 256-entry table of 2**-(r/256) in Q.16;
  S = sum; recip = floor(2**(16+R_F) / S) (restoring division, one quotient bit per cycle);
  y = round(e * recip) to Q.OUT_F, unsigned. Causal mask: element j of row pos is kept iff j <= pos;
  masked elements are excluded from the max and the sum and output 0.
* rmsnorm / layernorm: integer sums s1 = sum x, s2 = sum round(x^2 / 2**P) (P = sq_shift, even),
  s2 saturated so that V < 2**62; c = N x (- s1), V = N s2 (- h^2, clamped at 0) + E with
  h = min(|round(s1 / 2**(P/2))|, 2**31 - 1),
  E = max(1, round(N^2 eps 4**IN_F / 2**P)), so that y = c / sqrt(V) * 2**-(P/2);
  1/sqrt(V) = r * 2**-(K + k) with V normalised by an even shift to m = V / 4**k in [2**(M-2), 2**M)
  and r = floor(2**K / sqrt(m)) found bit-serially (largest r with r^2 m <= 4**K);
  t = sat(round(c r / 2**(K+k+P/2-T_F))) (the normalised value in Q.T_F, T_F + ceil(bits(N)/2) + 2
  bits); y = sat(round(t g) + b).
* relu: max(x, 0), re-scaled. silu / gelu: x * gate(x), gate = sigmoid / Phi from a 513-entry table
  on [-16, 16) with step 1/16 and linear interpolation (gate 0 below, 1 above the range).
* swiglu: silu(a) * b with one final rounding.
* residual add: both inputs aligned to the finer fraction (exact shifts), added, rounded to the output.
* rope: angle in turns, phase = pos * FREQ[i] mod 2**32 (FREQ[i] = inv_freq_i / 2 pi in Q0.32, inv_freq
  as transformers computes it for the model, scaled RoPE types included),
  rounded to 12 bits; sin/cos from a quarter-wave table of 1025 entries (Q.16) by symmetry;
  (y_lo, y_hi) = (x_lo cos - x_hi sin, x_hi cos + x_lo sin) rounded to the output format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import nonlinear_tables as T

# ---------------------------------------------------------------------------------------------
# fixed-point helpers


def round_shift(x: torch.Tensor, s) -> torch.Tensor:
    """x * 2**-s rounded half up (s > 0), exact left shift (s <= 0). s: int or int64 tensor."""
    if isinstance(s, int):
        if s > 0:
            return (x + (1 << (s - 1))) >> s
        return x << (-s)
    s = s.to(torch.int64)
    pos = s.clamp(min=1)
    right = (x + (torch.ones_like(x) << (pos - 1))) >> pos
    left = x << (-s).clamp(min=0)
    return torch.where(s > 0, right, left)


def saturate(x: torch.Tensor, width: int) -> torch.Tensor:
    lim = (1 << (width - 1)) - 1
    return x.clamp(-lim, lim)


def to_fixed(x: torch.Tensor, width: int, frac: int) -> torch.Tensor:
    """float -> int64 code: round half to even, symmetric saturation (= mase.formats fixedW_F)."""
    lim = (1 << (width - 1)) - 1
    scaled = torch.nan_to_num(x.to(torch.float64) * 2.0**frac, nan=0.0, posinf=lim, neginf=-lim)
    return torch.round(scaled).clamp(-lim, lim).to(torch.int64)


def from_fixed(c: torch.Tensor, frac: int, dtype=torch.float32) -> torch.Tensor:
    return (c.to(torch.float64) * 2.0**-frac).to(dtype)


def auto_frac(x: torch.Tensor, width: int) -> int:
    """Fraction bits that fit max|x| in `width` signed bits (the fixed8 rule: Q1.(W-2) * 2**exp)."""
    amax = float(x.detach().abs().max()) if x.numel() else 0.0
    if amax == 0.0 or not math.isfinite(amax):
        return width - 2
    return width - 2 - math.floor(math.log2(amax))


def _tab(values, device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64, device=device)


def _bitlength(v: torch.Tensor) -> torch.Tensor:
    """Exact bit length of positive int64 values (float estimate, then integer correction)."""
    z = torch.floor(torch.log2(v.to(torch.float64).clamp(min=1.0))).to(torch.int64) + 1
    z = torch.where((v >> (z - 1).clamp(min=0)) == 0, z - 1, z)
    z = torch.where((v >> z.clamp(max=62)) > 0, z + 1, z)
    return z


# ---------------------------------------------------------------------------------------------
# softmax


@dataclass(frozen=True)
class SoftmaxConfig:
    in_w: int = 20  # scores (scaled by 2**-s of 1/sqrt(d) = 2**-s * c, see split_scaling) in +-512
    in_f: int = 10
    out_f: int = 16  # output unsigned, out_f + 1 bits (1.0 representable)
    recip_f: int = 20
    log2e_q: int = T.LOG2E_Q  # exp unit multiplier: c * log2(e) in Q.LOG2E_F (softmax_log2e_q(c))

    @property
    def t_shift(self) -> int:
        return self.in_f + T.LOG2E_F - T.EXP_LUT_BITS

    @property
    def out_w(self) -> int:
        return self.out_f + 1


def causal_mask(pos: torch.Tensor, n: int) -> torch.Tensor:
    """Mask (..., n), True = kept: column j of a row at position pos is kept iff j <= pos."""
    return torch.arange(n, device=pos.device) <= pos.unsqueeze(-1)


def split_scaling(scaling: float) -> tuple[int, float]:
    """scaling = 2**-s * c with c in (0.5, 1] (c = 1 for a power of two): the hardware shifts the
    scores by s on the way to the softmax and folds c into its exp unit (softmax_log2e_q(c))."""
    m, e = math.frexp(scaling)  # m in [0.5, 1)
    return (1 - e, 1.0) if m == 0.5 else (-e, m)


def softmax_log2e_q(c: float = 1.0) -> int:
    """The exp unit's multiplier: exp(-c u) = 2**-(u * c log2(e)), c log2(e) in Q.LOG2E_F. c in (0.5, 1]
    keeps it below 2**15 (the core's product is IN_W + 1 by 16 bits); c = 1 gives T.LOG2E_Q."""
    if not 0.5 < c <= 1.0:
        raise ValueError(f"softmax scale factor {c} outside (0.5, 1]: split it with split_scaling")
    return int(math.floor(c * math.log2(math.e) * 2**T.LOG2E_F + 0.5))


def softmax_exp_int(u: torch.Tensor, cfg: SoftmaxConfig) -> torch.Tensor:
    """exp(-u * c) in Q.EXP_F for u >= 0 in Q.in_f (the exp unit of the core; c folded in cfg.log2e_q)."""
    assert cfg.t_shift >= 1
    t = round_shift(u * cfg.log2e_q, cfg.t_shift)
    n = t >> T.EXP_LUT_BITS
    r = t & ((1 << T.EXP_LUT_BITS) - 1)
    lut = _tab(T.exp2_table(), u.device)
    e = lut[r] >> n.clamp(max=T.EXP_F + 1)
    return e


def softmax_int(x: torch.Tensor, mask: torch.Tensor | None, cfg: SoftmaxConfig) -> torch.Tensor:
    """Softmax over the last axis of int64 codes (Q.in_f); returns unsigned codes in Q.out_f."""
    x = x.to(torch.int64)
    if mask is None:
        mask = torch.ones_like(x, dtype=torch.bool)
    neg = torch.full_like(x, -(1 << 62))
    m = torch.where(mask, x, neg).amax(-1, keepdim=True)
    u = torch.where(mask, m - x, torch.zeros_like(x))
    e = torch.where(mask, softmax_exp_int(u, cfg), torch.zeros_like(x))
    s = e.sum(-1, keepdim=True)
    recip = (1 << (T.EXP_F + cfg.recip_f)) // s.clamp(min=1)
    recip = torch.where(s > 0, recip, torch.zeros_like(recip))
    y = round_shift(e * recip, T.EXP_F + cfg.recip_f - cfg.out_f)
    return y.clamp(0, (1 << cfg.out_w) - 1)


def hw_softmax(x: torch.Tensor, mask: torch.Tensor | None = None, cfg: SoftmaxConfig = SoftmaxConfig()):
    """Float softmax over the last axis through the hardware algorithm (mask: True = kept)."""
    y = softmax_int(to_fixed(x, cfg.in_w, cfg.in_f), mask, cfg)
    return from_fixed(y, cfg.out_f, x.dtype)


# ---------------------------------------------------------------------------------------------
# rmsnorm / layernorm


@dataclass(frozen=True)
class NormConfig:
    in_w: int = 32  # the residual stream of smollm2 reaches +-24759 (its massive activations)
    in_f: int = 16
    sq_shift: int = 16  # squares kept as round(x^2 / 2**sq_shift) (even), s1 as round(s1 / 2**(sq_shift/2))
    g_w: int = 16
    out_w: int = 24
    norm_m: int = 16  # V is normalised into [2**(M-2), 2**M)
    rsqrt_k: int = 24  # r = floor(2**K / sqrt(m)), K - M/2 + 2 bits
    t_f: int = 16  # fraction bits of the normalised value

    @property
    def r_bits(self) -> int:
        return self.rsqrt_k - self.norm_m // 2 + 2


V_MAX = (1 << 62) - 1
H_MAX = (1 << 31) - 1  # |round(s1 / 2**(P/2))| saturates here, so that its square stays below 2**62


def norm_t_width(cfg: NormConfig, n: int) -> int:
    """Bits of the normalised value t (|t| <= sqrt(N) 2**T_F, with margin); t saturates to them."""
    return cfg.t_f + (n.bit_length() + 1) // 2 + 2


def norm_eps_code(n: int, eps: float, in_f: int, sq_shift: int) -> int:
    return max(1, int(math.floor(n * n * eps * 4.0**in_f * 2.0**-sq_shift + 0.5)))


def rsqrt_int(v: torch.Tensor, cfg: NormConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, k) with 1/sqrt(v) ~= r * 2**-(K + k); v >= 1 int64 < 2**62. r = floor(2**K/sqrt(m)) exactly."""
    M, K = cfg.norm_m, cfg.rsqrt_k
    z = _bitlength(v)
    k = torch.div(z - M + 1, 2, rounding_mode="floor")
    m = torch.where(k > 0, v >> (2 * k).clamp(min=0), v << (-2 * k).clamp(min=0))
    lim = 1 << (2 * K)
    r = torch.floor(2.0**K / torch.sqrt(m.to(torch.float64))).to(torch.int64)
    for _ in range(3):  # exact correction of the float estimate
        r = torch.where((r + 1) * (r + 1) * m <= lim, r + 1, r)
        r = torch.where(r * r * m > lim, r - 1, r)
    return r, k


def norm_int(x, g, b, cfg: NormConfig, g_f: int, out_f: int, eps_code: int, sub_mean: bool):
    """Normalise int64 codes (Q.in_f) over the last axis; g in Q.g_f; b (or None) in Q.out_f."""
    x = x.to(torch.int64)
    n = x.shape[-1]
    p = cfg.sq_shift
    assert p % 2 == 0
    s1 = x.sum(-1, keepdim=True)
    s2 = round_shift(x * x, p).sum(-1, keepdim=True)
    s2 = s2.clamp(max=(V_MAX - eps_code) // n)  # V saturates at 2**62 - 1
    if sub_mean:
        c = n * x - s1
        h = round_shift(s1, p // 2).abs().clamp(max=H_MAX)
        v = (n * s2 - h * h).clamp(min=0) + eps_code
    else:
        c = n * x
        v = n * s2 + eps_code
    r, k = rsqrt_int(v, cfg)
    sh = cfg.rsqrt_k + k + p // 2 - cfg.t_f
    assert int(sh.min()) >= 1, "rsqrt_k - (norm_m - 2)//2 must exceed t_f"
    t = saturate(round_shift(c * r, sh), norm_t_width(cfg, n))
    y = round_shift(t * g.to(torch.int64), cfg.t_f + g_f - out_f)
    if b is not None:
        y = y + b.to(torch.int64)
    return saturate(y, cfg.out_w)


def _norm_float(x, weight, bias, eps, cfg: NormConfig, sub_mean: bool, out_f: int | None):
    n = x.shape[-1]
    in_c = to_fixed(x, cfg.in_w, cfg.in_f)
    w = weight if weight is not None else torch.ones(n, device=x.device)
    g_f = auto_frac(w, cfg.g_w)
    g = to_fixed(w, cfg.g_w, g_f)
    if out_f is None:  # the bound |y| <= sqrt(N) max|g| + max|b|
        bound = math.sqrt(n) * float(w.abs().max()) + (float(bias.abs().max()) if bias is not None else 0.0)
        out_f = cfg.out_w - 2 - math.floor(math.log2(max(bound, 1e-30)))
    b = to_fixed(bias, cfg.out_w, out_f) if bias is not None else None
    y = norm_int(in_c, g, b, cfg, g_f, out_f, norm_eps_code(n, eps, cfg.in_f, cfg.sq_shift), sub_mean)
    return from_fixed(y, out_f, x.dtype)


def hw_rmsnorm(x, weight, eps: float, cfg: NormConfig = NormConfig(), out_f: int | None = None):
    return _norm_float(x, weight, None, eps, cfg, False, out_f)


def hw_layernorm(x, weight, bias, eps: float, cfg: NormConfig = NormConfig(), out_f: int | None = None):
    return _norm_float(x, weight, bias, eps, cfg, True, out_f)


# ---------------------------------------------------------------------------------------------
# activations


@dataclass(frozen=True)
class ActConfig:
    in_w: int = 20  # smollm2 gate_proj outputs reach +-50
    in_f: int = 12
    out_w: int = 20
    out_f: int = 12


def gate_int(x: torch.Tensor, func: str, in_f: int) -> torch.Tensor:
    """sigmoid (silu) or Phi (gelu) of Q.in_f codes, in Q.GATE_F, table + linear interpolation."""
    fb = in_f - T.GATE_LUT_FRAC
    assert fb >= 0, "activation input needs at least GATE_LUT_FRAC fraction bits"
    tab = _tab(T.gate_table(func), x.device)
    last = T.GATE_ENTRIES - 1
    idx = (x >> fb) + (last // 2)
    frac = x & ((1 << fb) - 1)
    i = idx.clamp(0, last - 1)
    lo, hi = tab[i], tab[i + 1]
    g = lo + (((hi - lo) * frac) >> fb)
    g = torch.where(idx < 0, tab[0], g)
    return torch.where(idx >= last, tab[last], g)


def act_int(x: torch.Tensor, func: str, cfg: ActConfig) -> torch.Tensor:
    x = x.to(torch.int64)
    if func == "relu":
        y = round_shift(x.clamp(min=0), cfg.in_f - cfg.out_f)
    elif func in T.GATE_FUNCS:
        y = round_shift(x * gate_int(x, func, cfg.in_f), cfg.in_f + T.GATE_F - cfg.out_f)
    else:
        raise ValueError(f"unknown activation {func!r}: relu, gelu or silu")
    return saturate(y, cfg.out_w)


def hw_act(x: torch.Tensor, func: str, cfg: ActConfig = ActConfig()) -> torch.Tensor:
    return from_fixed(act_int(to_fixed(x, cfg.in_w, cfg.in_f), func, cfg), cfg.out_f, x.dtype)


@dataclass(frozen=True)
class SwigluConfig:
    a_w: int = 20  # gate input (silu applied); smollm2: +-50
    a_f: int = 12
    b_w: int = 20  # up input; smollm2: +-77
    b_f: int = 12
    out_w: int = 24  # smollm2: +-3080
    out_f: int = 10


def swiglu_int(a: torch.Tensor, b: torch.Tensor, cfg: SwigluConfig) -> torch.Tensor:
    a, b = a.to(torch.int64), b.to(torch.int64)
    assert cfg.a_w + T.GATE_F + 1 + cfg.b_w <= 63
    p = a * gate_int(a, "silu", cfg.a_f) * b
    return saturate(round_shift(p, cfg.a_f + T.GATE_F + cfg.b_f - cfg.out_f), cfg.out_w)


def hw_swiglu(a: torch.Tensor, b: torch.Tensor, cfg: SwigluConfig = SwigluConfig()) -> torch.Tensor:
    y = swiglu_int(to_fixed(a, cfg.a_w, cfg.a_f), to_fixed(b, cfg.b_w, cfg.b_f), cfg)
    return from_fixed(y, cfg.out_f, a.dtype)


# ---------------------------------------------------------------------------------------------
# residual add


@dataclass(frozen=True)
class ResidualConfig:
    a_w: int = 32  # the residual stream (smollm2: +-24759)
    a_f: int = 16
    b_w: int = 32  # the sub-layer output
    b_f: int = 16
    out_w: int = 32
    out_f: int = 16


def residual_int(a: torch.Tensor, b: torch.Tensor, cfg: ResidualConfig) -> torch.Tensor:
    f = max(cfg.a_f, cfg.b_f)
    s = (a.to(torch.int64) << (f - cfg.a_f)) + (b.to(torch.int64) << (f - cfg.b_f))
    return saturate(round_shift(s, f - cfg.out_f), cfg.out_w)


def hw_residual(a, b, cfg: ResidualConfig = ResidualConfig()):
    y = residual_int(to_fixed(a, cfg.a_w, cfg.a_f), to_fixed(b, cfg.b_w, cfg.b_f), cfg)
    return from_fixed(y, cfg.out_f, a.dtype)


# ---------------------------------------------------------------------------------------------
# rotary position embedding


@dataclass(frozen=True)
class RopeConfig:
    in_w: int = 16
    in_f: int = 10
    out_w: int = 16
    out_f: int = 10
    pos_w: int = 16
    phase_f: int = 32


def sincos_int(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sin, cos) in Q.TRIG_F of the angle a / 2**ANGLE_BITS turns (a in [0, 2**ANGLE_BITS))."""
    qb = T.ANGLE_BITS - 2
    tab = _tab(T.sin_quarter_table(), a.device)
    quad = a >> qb
    j = a & ((1 << qb) - 1)
    s_j, s_c = tab[j], tab[(1 << qb) - j]  # sin(j), sin(quarter - j) = cos(j)
    sin = torch.where(quad == 0, s_j, torch.where(quad == 1, s_c, torch.where(quad == 2, -s_j, -s_c)))
    cos = torch.where(quad == 0, s_c, torch.where(quad == 1, -s_j, torch.where(quad == 2, -s_c, s_j)))
    return sin, cos


def rope_angle_int(pos: torch.Tensor, freq: torch.Tensor, cfg: RopeConfig) -> torch.Tensor:
    phase = (pos.to(torch.int64) * freq) & ((1 << cfg.phase_f) - 1)
    return round_shift(phase, cfg.phase_f - T.ANGLE_BITS) & ((1 << T.ANGLE_BITS) - 1)


def rope_int(x_lo, x_hi, pos, freq, cfg: RopeConfig):
    """Rotate pairs (x_lo, x_hi) (Q.in_f) by pos * freq (freq: Q0.phase_f turns, broadcast)."""
    assert int(pos.max()) < (1 << cfg.pos_w) and int(pos.min()) >= 0
    sin, cos = sincos_int(rope_angle_int(pos, freq, cfg))
    x_lo, x_hi = x_lo.to(torch.int64), x_hi.to(torch.int64)
    sh = T.TRIG_F + cfg.in_f - cfg.out_f
    y_lo = saturate(round_shift(x_lo * cos - x_hi * sin, sh), cfg.out_w)
    y_hi = saturate(round_shift(x_hi * cos + x_lo * sin, sh), cfg.out_w)
    return y_lo, y_hi


def hw_rope(x: torch.Tensor, pos: torch.Tensor, freqs: tuple[int, ...], cfg: RopeConfig = RopeConfig()) -> torch.Tensor:
    """HF 'rotate_half' RoPE of x (..., T, D) with integer positions pos broadcastable to (..., T);
    freqs: the D/2 pair rotations in Q0.phase_f turns (nonlinear_tables.rope_freqs of the model)."""
    d = x.shape[-1]
    if len(freqs) != d // 2:
        raise ValueError(f"hw_rope: {len(freqs)} frequencies for a head of {d} elements")
    freq = _tab(freqs, x.device)
    c = to_fixed(x, cfg.in_w, cfg.in_f)
    y_lo, y_hi = rope_int(c[..., : d // 2], c[..., d // 2:], pos.unsqueeze(-1), freq, cfg)
    return from_fixed(torch.cat((y_lo, y_hi), -1), cfg.out_f, x.dtype)
