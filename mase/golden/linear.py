"""Bit-exact golden model of the MX linear cores (see CONTRACT.md next to this file).

Everything here is integer arithmetic on int64 torch tensors, vectorised, so the same code checks a
core on a few random blocks and computes a whole real layer the way the hardware would.

    >>> import torch
    >>> from mase.formats import get_format
    >>> from mase.golden import linear, AccSpec
    >>> x = get_format("mxint4", 16).quantize(torch.randn(3, 64))      # 3 input vectors
    >>> w = get_format("mxint4", 16).quantize(torch.randn(32, 64))     # 32 x 64 weights
    >>> acc = AccSpec(lsb=-20, width=32)
    >>> b = quantize_bias(torch.randn(32), acc)
    >>> y = linear(x, w, b, acc, out_format="mxint4", out_block=16)     # QuantizedTensor (3, 32)
    >>> y.dequantize()
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mase.formats import ELEMENTS, FloatElement, IntElement, get_format
from mase.formats.fixed import FixedFormat
from mase.formats.mx import MXFormat
from mase.formats.tensor import BlockLayout, QuantizedTensor

E8M0_BIAS = 127


# ----------------------------------------------------------------------------------------------
# Element types as the hardware sees them
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElemSpec:
    """An element type described by the two RTL parameters WIDTH and EBITS (EBITS = 0: integer).

    value = I * 2**lsb * 2**(scale - 127), I the exact signed integer of the code.
    """

    width: int
    ebits: int

    @property
    def is_int(self) -> bool:
        return self.ebits == 0

    @property
    def mbits(self) -> int:
        return self.width - 1 - self.ebits

    @property
    def bias(self) -> int:
        return (1 << (self.ebits - 1)) - 1 if self.ebits else 0

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest normal value (0 for integers: Q1.(m-2))."""
        if self.is_int:
            return 0
        top = (1 << self.ebits) - 1
        return (top - 1 if self.ebits == 5 else top) - self.bias  # E5M2 keeps its top code for Inf/NaN

    @property
    def max_mant(self) -> int:
        """Largest mantissa field at emax (E4M3 loses S.1111.111 to NaN)."""
        full = (1 << self.mbits) - 1
        return full - 1 if (self.ebits, self.mbits) == (4, 3) else full

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def lsb(self) -> int:
        return -(self.width - 2) if self.is_int else self.emin - self.mbits

    @property
    def int_width(self) -> int:
        """Signed width of I (the integer the multipliers see)."""
        if self.is_int:
            return self.width
        return 1 + (self.mbits + 1) + ((1 << self.ebits) - 2)

    @property
    def max_int(self) -> int:
        if self.is_int:
            return self.max_code
        return ((1 << self.mbits) + self.max_mant) << (self.emax + self.bias - 1)

    @property
    def element(self) -> FloatElement | IntElement:
        """The mase.formats element type with these RTL parameters: the one decoder of codes."""
        if self.is_int:
            return IntElement(f"int{self.width}", self.width)
        return ELEMENTS[f"fp{self.width}_e{self.ebits}m{self.mbits}"]

    def to_int(self, codes: torch.Tensor) -> torch.Tensor:
        """Exact signed integer I of each code (specials are plain numbers in hardware)."""
        return self.element.to_int(codes.to(torch.int64) & ((1 << self.width) - 1))


_ELEM_OF = {"fixed8": (8, 0)}


def elem_spec(fmt) -> ElemSpec:
    """ElemSpec of a format name or format object (fixed8 = int8 elements under a constant scale)."""
    if isinstance(fmt, str):
        fmt = get_format(fmt, 32)
    if isinstance(fmt, FixedFormat):
        if fmt.name != "fixed8":
            raise ValueError(f"only the fixed8 baseline maps onto the MX cores, not {fmt.name}")
        return ElemSpec(8, 0)
    if isinstance(fmt, MXFormat):
        e = fmt.element
        return ElemSpec(e.bits, getattr(e, "ebits", 0))
    raise ValueError(f"format {fmt!r} has no hardware element type (use an mx* format or fixed8)")


@dataclass(frozen=True)
class AccSpec:
    """The cross-block accumulator: every block product is aligned to 2**lsb (floor) and saturated
    to `width` signed bits; the terms and the bias are summed exactly (no further rounding)."""

    lsb: int = -20
    width: int = 32


# ----------------------------------------------------------------------------------------------
# Integer primitives (each one is one piece of RTL)
# ----------------------------------------------------------------------------------------------
def msb(a: torch.Tensor) -> torch.Tensor:
    """floor(log2 a) for integer a >= 1 (int64); 0 gives -1."""
    a = a.to(torch.int64)
    # frexp is exact below 2**53; above, rounding can only carry up to the next power of two
    e = torch.frexp(a.to(torch.float64)).exponent.to(torch.int64) - 1
    e = torch.where((torch.ones_like(a) << e.clamp(0, 62)) > a, e - 1, e)
    return torch.where(a > 0, e, torch.full_like(a, -1))


def saturate(v: torch.Tensor, width: int) -> torch.Tensor:
    lim = 1 << (width - 1)
    return v.clamp(-lim, lim - 1)


def align(s: torch.Tensor, d: torch.Tensor, width: int) -> torch.Tensor:
    """floor(s * 2**d) saturated to `width` signed bits (s int64, d integer tensor)."""
    s, d = torch.broadcast_tensors(s.to(torch.int64), d.to(torch.int64))
    maxv = (1 << (width - 1)) - 1
    dl = d.clamp(0, width)
    # left shift: saturate before shifting, so nothing overflows int64
    hi = s > (maxv >> dl)
    lo = s < -((maxv + 1) >> dl)
    left = torch.where(hi, maxv, torch.where(lo, -maxv - 1, s << dl))
    right = saturate(s >> (-d).clamp(0, 63), width)
    return torch.where(d >= 0, left, right)


def rne_shift(mag: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """round-half-to-even(mag / 2**r) for mag >= 0; r <= 0 shifts left (callers keep it exact)."""
    mag, r = torch.broadcast_tensors(mag.to(torch.int64), r.to(torch.int64))
    rr = r.clamp(1, 62)
    q = mag >> rr
    rem = mag & ((1 << rr) - 1)
    half = 1 << (rr - 1)
    up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    right = q + up.to(torch.int64)
    left = mag << (-r).clamp(0, 62)
    return torch.where(r > 0, right, left)


def quantize_bias(b: torch.Tensor, acc: AccSpec) -> torch.Tensor:
    """Float bias -> int64 at 2**acc.lsb (round half to even, saturated to acc.width bits)."""
    v = torch.round(b.to(torch.float64) * 2.0 ** (-acc.lsb))
    lim = float(1 << (acc.width - 1))
    return v.clamp(-lim, lim - 1).to(torch.int64)


def dequantize_acc(a: torch.Tensor, lsb: int) -> torch.Tensor:
    """Fixed-point integers at 2**lsb as float64 values."""
    return a.to(torch.float64) * 2.0**lsb


# ----------------------------------------------------------------------------------------------
# MX tensors <-> (integers, scale bytes)
# ----------------------------------------------------------------------------------------------
def _blocks_of(q: QuantizedTensor, block: int | None, fixed_scale: int | None):
    """(I int64 (..., nb, k), scale bytes int64 (..., nb), ElemSpec) of a quantized tensor."""
    spec = elem_spec(q.format)
    if isinstance(q.format, FixedFormat):
        if block is None:
            raise ValueError("fixed8 tensors need the block size of the core they feed (block=...)")
        f = 127 - int(q.scales[0])
        sb = 133 - f  # int8 element (Q1.6) times 2**(sb - 127)
        if not 0 <= sb <= 254:
            raise ValueError(f"fixed8 scale 2**-{f} is outside what an E8M0 byte can hold")
        codes = q.elements.to(torch.int64)  # fixed8 is not blocked: the last axis is the reduction axis
        pad = (-codes.shape[-1]) % block
        codes = torch.nn.functional.pad(codes, (0, pad)).reshape(*codes.shape[:-1], -1, block)
        scales = torch.full(codes.shape[:-1], sb, dtype=torch.int64)
        return codes, scales, spec
    if block is not None and block != q.elements.shape[-1]:
        raise ValueError(f"tensor has blocks of {q.elements.shape[-1]}, the core expects {block}")
    if fixed_scale is not None:
        raise ValueError("fixed_scale applies to fixed8 only")
    return spec.to_int(q.elements), q.scales.to(torch.int64), spec


def fixed8_scale_byte(q: QuantizedTensor) -> int:
    """The constant E8M0 byte the cores use for a fixed8 tensor (int8 Q1.6 codes times 2**(byte-127))."""
    return 133 - (127 - int(q.scales[0]))


# ----------------------------------------------------------------------------------------------
# The operations
# ----------------------------------------------------------------------------------------------
def block_dot(ai: torch.Tensor, bi: torch.Tensor) -> torch.Tensor:
    """Exact integer sum of products over the last axis, for batches (..., k) (broadcasting)."""
    return (ai.to(torch.int64) * bi.to(torch.int64)).sum(-1)


def _block_sums(xi: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
    """S[t, o, b] = sum_k x[t, b, k] * w[o, b, k], exactly (float64 GEMM when provably exact)."""
    k = xi.shape[-1]
    bound = int(xi.abs().max()) * int(wi.abs().max()) * k if xi.numel() and wi.numel() else 0
    xb, wb = xi.permute(1, 0, 2), wi.permute(1, 2, 0)  # (nb, T, k), (nb, k, O)
    if bound < (1 << 53):
        s = torch.bmm(xb.to(torch.float64), wb.to(torch.float64)).to(torch.int64)
    elif bound < (1 << 62):
        s = torch.bmm(xb, wb)
    else:
        raise ValueError("block products exceed 62 bits (e.g. mxfp8_e5m2 x mxfp8_e5m2): not supported in hardware")
    return s.permute(1, 2, 0)  # (T, O, nb)


def accumulate(s: torch.Tensor, e: torch.Tensor, shift0: int, acc: AccSpec, bias=None) -> torch.Tensor:
    """sum_b align(S_b, E_b + shift0) (+ bias), exact; E_b the raw sum of the two scale bytes and
    shift0 = lsb_a + lsb_b - 254 - acc.lsb. Order-independent."""
    terms = align(s, e + shift0, acc.width)
    total = terms.sum(-1)
    if bias is not None:
        total = total + saturate(bias.to(torch.int64), acc.width)
    return total


def requantize(a: torch.Tensor, lsb: int, out_format: str, out_block: int, fixed_scale: int | None = None):
    """Fixed-point integers `a` (..., n) at 2**lsb -> MX codes (..., n/k, k) and scale bytes (..., n/k).

    shared = clamp(msb(max|a|) + lsb - emax, -127, 127) (all-zero block: byte 0), then each element is
    a * 2**(lsb - shared) rounded half to even onto the element grid and saturated (sign kept).
    With `fixed_scale` (fixed8 output) the shared exponent is that byte - 127 for every block.
    """
    spec = elem_spec(out_format)
    a = a.to(torch.int64)
    pad = (-a.shape[-1]) % out_block
    a = torch.nn.functional.pad(a, (0, pad)).reshape(*a.shape[:-1], -1, out_block)
    mag = a.abs()
    if fixed_scale is None:
        amax = mag.amax(-1)
        shared = (msb(amax) + lsb - spec.emax).clamp(-127, 127)
        shared = torch.where(amax == 0, torch.full_like(shared, -127), shared)
    else:
        shared = torch.full(a.shape[:-1], fixed_scale - E8M0_BIAS, dtype=torch.int64)
    sh = shared.unsqueeze(-1)
    neg = a < 0
    if spec.is_int:
        q = rne_shift(mag, sh + spec.lsb - lsb).clamp(max=spec.max_code)
        codes = torch.where(neg, -q, q)
    else:
        m = spec.mbits
        e = torch.maximum(msb(mag) + lsb - sh, torch.full_like(mag, spec.emin))  # element exponent
        e = torch.where(mag == 0, torch.full_like(e, spec.emin), e)
        q = rne_shift(mag, e - m + sh - lsb)  # significand on the grid of 2**(e - m)
        carry = q >> (m + 1)
        e = e + carry
        q = torch.where(carry.bool(), q >> 1, q)
        normal = q >= (1 << m)
        mant = torch.where(normal, q - (1 << m), q)
        biased = torch.where(normal, e + spec.bias, torch.zeros_like(e))
        over = (e > spec.emax) | ((e == spec.emax) & normal & (mant > spec.max_mant))
        biased = torch.where(over, torch.full_like(e, spec.emax + spec.bias), biased)
        mant = torch.where(over, torch.full_like(mant, spec.max_mant), mant)
        codes = (neg.to(torch.int64) << (spec.width - 1)) | (biased << m) | mant
    return codes, shared + E8M0_BIAS


def _as_quantized(codes, scales, out_format, out_block, n, lead_shape, fixed_scale):
    layout = BlockLayout((*lead_shape, n), len(lead_shape), torch.float32)
    if out_format == "fixed8":
        f = 133 - fixed_scale
        flat = codes.reshape(*lead_shape, -1)[..., :n]
        return QuantizedTensor(get_format("fixed8"), flat.to(torch.int64),
                               torch.tensor([127 - f], dtype=torch.uint8), layout)
    fmt = get_format(out_format, out_block)
    spec = elem_spec(fmt)
    codes = codes.to(torch.int8) if spec.is_int else codes.to(torch.uint8)
    return QuantizedTensor(fmt, codes, scales.to(torch.uint8), layout)


def linear_int(xi: torch.Tensor, xs: torch.Tensor, x_spec: ElemSpec, wi: torch.Tensor, ws: torch.Tensor,
               w_spec: ElemSpec, bias, acc: AccSpec) -> torch.Tensor:
    """linear_acc on raw integers: xi (T, nb, k) and xs (T, nb) scale bytes; wi (O, nb, k), ws (O, nb)."""
    s = _block_sums(xi.to(torch.int64), wi.to(torch.int64))
    e = xs.to(torch.int64).unsqueeze(1) + ws.to(torch.int64).unsqueeze(0)
    return accumulate(s, e, x_spec.lsb + w_spec.lsb - 2 * E8M0_BIAS - acc.lsb, acc, bias)


def linear_acc(x: QuantizedTensor, w: QuantizedTensor, bias, acc: AccSpec, block: int | None = None):
    """The accumulator value (int64 at 2**acc.lsb) of y = W x + b, before re-quantization.

    x: (T, in) quantized along `in`; w: (out, in) quantized along `in`; bias: int64 (out,) at
    2**acc.lsb or None. fixed8 operands need `block` (the core's K).
    """
    xi, xs, xe = _blocks_of(x, block, None)
    wi, ws, we = _blocks_of(w, block if block else xi.shape[-1], None)
    lead = xi.shape[:-2]
    xi, xs = xi.reshape(-1, *xi.shape[-2:]), xs.reshape(-1, xs.shape[-1])
    if xi.shape[-2:] != wi.shape[-2:]:
        raise ValueError(f"x blocks {tuple(xi.shape[-2:])} do not match W blocks {tuple(wi.shape[-2:])}")
    return linear_int(xi, xs, xe, wi, ws, we, bias, acc).reshape(*lead, -1)


def linear(x: QuantizedTensor, w: QuantizedTensor, bias, acc: AccSpec, out_format: str,
           out_block: int = 32, block: int | None = None, out_scale: int | None = None) -> QuantizedTensor:
    """y = W x + b exactly as `mx_linear` computes it, re-quantized to `out_format`.

    Returns a QuantizedTensor of shape (T, out) (dequantize() gives the hardware's values).
    fixed8 output needs `out_scale`, the constant E8M0 byte of the output (Q1.6 codes).
    """
    total = linear_acc(x, w, bias, acc, block)
    if (out_format == "fixed8") != (out_scale is not None):
        raise ValueError("out_scale is required for, and only for, fixed8 output")
    codes, scales = requantize(total, acc.lsb, out_format, out_block, out_scale)
    return _as_quantized(codes, scales, out_format, out_block, total.shape[-1], total.shape[:-1], out_scale)


def matmul(a: QuantizedTensor, b: QuantizedTensor, acc: AccSpec, out_format: str, out_block: int = 32,
           block: int | None = None, out_scale: int | None = None) -> QuantizedTensor:
    """C = A B^T for activations (as `mx_matmul`): a (M, K) and b (N, K), both blocked along K."""
    return linear(a, b, None, acc, out_format, out_block, block, out_scale)


def dot_product(a: QuantizedTensor, b: QuantizedTensor):
    """Per-block exact sum S and exponent byte sum E of two equally shaped MX tensors (mx_dot_product).

    The block's value is S * 2**(E - 254 + lsb_a + lsb_b)."""
    ai, asb, ae = _blocks_of(a, None, None)
    bi, bsb, be = _blocks_of(b, None, None)
    return block_dot(ai, bi), asb + bsb


def dequantize_fixed(q: QuantizedTensor, out_lsb: int, out_width: int, block: int | None = None) -> torch.Tensor:
    """MX -> fixed point as `mx_dequantize`: floor(I * 2**(scale-127+lsb-out_lsb)) saturated to out_width."""
    i, s, spec = _blocks_of(q, block, None)
    return align(i, (s + spec.lsb - E8M0_BIAS - out_lsb).unsqueeze(-1), out_width)


def quantize_fixed(a: torch.Tensor, lsb: int, out_format: str, out_block: int, out_scale: int | None = None):
    """Fixed point -> MX as `mx_quantize`: returns (codes (..., n/k, k) int64, scale bytes (..., n/k))."""
    return requantize(a, lsb, out_format, out_block, out_scale)
