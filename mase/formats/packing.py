"""Bit packing of MX tensors into the memory words the RTL reads, and back (exact round trip).

Layout (the contract with cores/ and the weight memory images):
- Elements are taken block by block in row-major order of `QuantizedTensor.elements`
  (shape (..., n_blocks, k): the quantized axis is last), and cut into words of `lanes` elements.
  `lanes` must divide k, so a word never straddles two blocks.
- Inside a word, lane j occupies bits [j*m, (j+1)*m) (lane 0 in the least significant bits);
  an element is its m-bit code: the OCP bit pattern for minifloats, m-bit two's complement for mxint.
- A word is returned as little-endian bytes: a uint8 tensor (n_words, ceil(lanes*m/8)).
- Scales: one E8M0 byte per block, in the same block order, `lanes` scales per word
  (default 1: one byte per word), same bit layout.
- `to_hex_lines` prints each word most significant digit first, the format of $readmemh.
"""

from __future__ import annotations

import numpy as np
import torch


def _pack_fields(values: torch.Tensor, bits: int, per_word: int) -> torch.Tensor:
    v = values.reshape(-1).to(torch.int64) & ((1 << bits) - 1)
    if v.numel() % per_word:
        raise ValueError(f"{v.numel()} fields do not fill words of {per_word}: choose lanes dividing the block size")
    shifts = torch.arange(bits, dtype=torch.int64)
    fieldbits = ((v.unsqueeze(-1) >> shifts) & 1).to(torch.uint8).reshape(-1, per_word * bits)
    pad = (-fieldbits.shape[1]) % 8
    if pad:
        fieldbits = torch.nn.functional.pad(fieldbits, (0, pad))
    weights = (1 << torch.arange(8, dtype=torch.int32)).to(torch.uint8)
    return (fieldbits.reshape(fieldbits.shape[0], -1, 8) * weights).sum(-1, dtype=torch.int32).to(torch.uint8)


def _unpack_fields(words: torch.Tensor, bits: int, per_word: int, signed: bool) -> torch.Tensor:
    bitplanes = ((words.to(torch.int32).unsqueeze(-1) >> torch.arange(8, dtype=torch.int32)) & 1)
    bitplanes = bitplanes.reshape(words.shape[0], -1)[:, : per_word * bits].reshape(-1, bits).to(torch.int64)
    v = (bitplanes << torch.arange(bits, dtype=torch.int64)).sum(-1)
    if signed:
        v = torch.where(v >= (1 << (bits - 1)), v - (1 << bits), v)
    return v


def pack_elements(qt, lanes: int) -> torch.Tensor:
    """Element codes of `qt` as words of `lanes` elements (uint8 little-endian bytes per word)."""
    k = qt.elements.shape[-1]
    if lanes < 1 or k % lanes:
        raise ValueError(f"lanes={lanes} must divide the block size {k}: choose one of "
                         f"{[d for d in range(1, k + 1) if k % d == 0]}")
    return _pack_fields(qt.elements, qt.format.element.bits, lanes)


def unpack_elements(words: torch.Tensor, fmt, lanes: int, shape) -> torch.Tensor:
    """Inverse of pack_elements: codes of the given blocked `shape`, in the dtype quantize gives."""
    signed = not hasattr(fmt.element, "ebits")
    v = _unpack_fields(words, fmt.element.bits, lanes, signed)
    return v.to(torch.int8 if signed else torch.uint8).reshape(shape)


def pack_scales(qt, per_word: int = 1) -> torch.Tensor:
    return _pack_fields(qt.scales, 8, per_word)


def unpack_scales(words: torch.Tensor, shape, per_word: int = 1) -> torch.Tensor:
    return _unpack_fields(words, 8, per_word, signed=False).to(torch.uint8).reshape(shape)


def to_hex_lines(words: torch.Tensor, width_bits: int | None = None) -> str:
    """$readmemh text: one word per line, most significant hex digit first."""
    arr = words.numpy()[:, ::-1]  # most significant byte first
    if arr.shape[0] == 0:
        return ""
    digits = arr.shape[1] * 2
    hexes = np.ascontiguousarray(arr).tobytes().hex()
    keep = digits if width_bits is None else -(-width_bits // 4)
    lines = [hexes[i + digits - keep: i + digits] for i in range(0, len(hexes), digits)]
    return "\n".join(lines) + "\n"
