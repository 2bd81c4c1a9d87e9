"""MX numerics: one bit-exact library shared by the PyTorch model and the hardware golden model.

    >>> from mase.formats import get_format
    >>> fmt = get_format("mxint4", block_size=32)
    >>> q = fmt.quantize(x, axis=-1); q.elements, q.scales, q.dequantize()
    >>> fmt.fake_quantize(x)            # same bits as q.dequantize()
    >>> fmt.bits_per_element            # 4.25 (scale overhead included)
"""

from .elements import ELEMENTS, FloatElement, IntElement
from .fixed import FixedFormat, FloatFormat
from .mx import MXFormat
from .packing import pack_elements, pack_scales, unpack_elements, unpack_scales, to_hex_lines
from .registry import ALIASES, BLOCK_SIZES, FORMAT_NAMES, get_format
from .tensor import BlockLayout, QuantizedTensor

__all__ = [
    "ALIASES", "BLOCK_SIZES", "ELEMENTS", "FORMAT_NAMES", "BlockLayout", "FixedFormat", "FloatElement",
    "FloatFormat", "IntElement", "MXFormat", "QuantizedTensor", "get_format", "pack_elements",
    "pack_scales", "to_hex_lines", "unpack_elements", "unpack_scales",
]
