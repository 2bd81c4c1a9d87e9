"""Element types of MX blocks: the OCP minifloats and the mxint<m> integer family.

Each element type knows its grid (where representable values lie), how to round a scaled value onto
that grid (round-half-to-even, saturating), and how to turn values into bit codes and back.
Everything is vectorised torch; no Python loop touches individual elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .bits import exp2i, floor_log2


@dataclass(frozen=True)
class FloatElement:
    """An OCP minifloat element: sign, `ebits` exponent bits, `mbits` mantissa bits."""

    name: str
    ebits: int
    mbits: int
    bias: int
    emax: int  # exponent of the largest normal value
    max_normal: float
    has_inf: bool = False  # E5M2 keeps IEEE Inf/NaN codes; the others have none or NaN only

    @property
    def bits(self) -> int:
        return 1 + self.ebits + self.mbits

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal value (subnormals share its step)."""
        return 1 - self.bias

    @property
    def lsb_exp(self) -> int:
        """Exponent of the smallest subnormal: every value is an integer times 2**lsb_exp."""
        return self.emin - self.mbits

    def round(self, v: torch.Tensor) -> torch.Tensor:
        """Round float32 `v` to this grid (RNE), saturating to +-max_normal, keeping the sign."""
        step_exp = floor_log2(v).clamp(min=self.emin) - self.mbits
        # Scaling by a power of two is exact, so the only rounding is torch.round (half to even).
        q = torch.round(v * exp2i(-step_exp)) * exp2i(step_exp)
        return torch.clamp(q, -self.max_normal, self.max_normal)

    def encode(self, q: torch.Tensor) -> torch.Tensor:
        """Bit codes (uint8, sign|exponent|mantissa) of values already on the grid."""
        sign = torch.signbit(q).to(torch.int32)
        a = q.abs()
        exp = floor_log2(a).clamp(min=self.emin)
        is_normal = a >= 2.0**self.emin
        biased = torch.where(is_normal, exp + self.bias, torch.zeros_like(exp))
        # mantissa field: a / 2**(exp - mbits) minus the hidden bit for normals
        mant = (a * exp2i(self.mbits - exp)).to(torch.int32)
        mant = torch.where(is_normal, mant - (1 << self.mbits), mant)
        code = (sign << (self.bits - 1)) | (biased << self.mbits) | mant
        return code.to(torch.uint8)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """float32 values of uint8 bit codes (specials decode to NaN/Inf where the type has them)."""
        c = code.to(torch.int32)
        sign = (c >> (self.bits - 1)) & 1
        biased = (c >> self.mbits) & ((1 << self.ebits) - 1)
        mant = c & ((1 << self.mbits) - 1)
        is_normal = biased > 0
        sig = torch.where(is_normal, mant + (1 << self.mbits), mant).to(torch.float32)
        exp = torch.where(is_normal, biased - self.bias, torch.full_like(biased, self.emin))
        mag = sig * exp2i(exp - self.mbits)
        val = torch.where(sign.bool(), -mag, mag)
        all_ones = (1 << self.ebits) - 1
        if self.has_inf:  # IEEE-like: exponent all ones is Inf (mantissa 0) or NaN
            special = biased == all_ones
            inf = torch.where(sign.bool(), -torch.inf, torch.inf)
            val = torch.where(special, torch.where(mant == 0, inf, torch.nan), val)
        elif self.name == "fp8_e4m3":  # only S.1111.111 is NaN
            val = torch.where((biased == all_ones) & (mant == (1 << self.mbits) - 1), torch.nan, val)
        return val

    def to_int(self, code: torch.Tensor) -> torch.Tensor:
        """Exact signed integer I with value = I * 2**lsb_exp (what the hardware multiplies)."""
        c = code.to(torch.int64)
        sign = (c >> (self.bits - 1)) & 1
        biased = (c >> self.mbits) & ((1 << self.ebits) - 1)
        mant = c & ((1 << self.mbits) - 1)
        is_normal = biased > 0
        sig = torch.where(is_normal, mant + (1 << self.mbits), mant)
        shift = torch.where(is_normal, biased - 1, torch.zeros_like(biased))
        mag = sig << shift
        return torch.where(sign.bool(), -mag, mag)


@dataclass(frozen=True)
class IntElement:
    """mxint<m>: two's complement Q1.(m-2), value = code * 2**-(m-2), symmetric range."""

    name: str
    bits: int

    @property
    def emax(self) -> int:
        return 0

    @property
    def lsb_exp(self) -> int:
        return -(self.bits - 2)

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def max_normal(self) -> float:
        return self.max_code * 2.0**self.lsb_exp

    def round(self, v: torch.Tensor) -> torch.Tensor:
        q = torch.round(v * 2.0**-self.lsb_exp) * 2.0**self.lsb_exp
        # + 0.0 turns -0.0 into +0.0: two's complement has no negative zero
        return torch.clamp(q, -self.max_normal, self.max_normal) + 0.0

    def encode(self, q: torch.Tensor) -> torch.Tensor:
        """Signed integer codes (int8) of values already on the grid."""
        return (q * 2.0**-self.lsb_exp).to(torch.int8)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        c = code.to(torch.int32)
        # codes may arrive as raw m-bit patterns (from unpacking): sign-extend them
        c = torch.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
        return c.to(torch.float32) * 2.0**self.lsb_exp

    def to_int(self, code: torch.Tensor) -> torch.Tensor:
        c = code.to(torch.int64)
        return torch.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)


ELEMENTS: dict[str, FloatElement | IntElement] = {
    "fp8_e5m2": FloatElement("fp8_e5m2", 5, 2, 15, 15, 57344.0, has_inf=True),
    "fp8_e4m3": FloatElement("fp8_e4m3", 4, 3, 7, 8, 448.0),
    "fp6_e3m2": FloatElement("fp6_e3m2", 3, 2, 3, 4, 28.0),
    "fp6_e2m3": FloatElement("fp6_e2m3", 2, 3, 1, 2, 7.5),
    "fp4_e2m1": FloatElement("fp4_e2m1", 2, 1, 1, 2, 6.0),
    **{f"int{m}": IntElement(f"int{m}", m) for m in range(2, 9)},
}
