"""Bit-exact golden models of the hardware cores (the contract is in CONTRACT.md).

`linear` (this package's linear-layer model) is what `mx_dot_product`, `mx_linear`, `mx_matmul`,
`mx_quantize` and `mx_dequantize` compute, bit for bit.
"""

from .linear import (AccSpec, ElemSpec, accumulate, align, block_dot, dequantize_fixed, dot_product,
                     elem_spec, fixed8_scale_byte, linear, linear_acc, linear_int, matmul, quantize_bias,
                     quantize_fixed, requantize, rne_shift)

__all__ = ["AccSpec", "ElemSpec", "accumulate", "align", "block_dot", "dequantize_fixed", "dot_product",
           "elem_spec", "fixed8_scale_byte", "linear", "linear_acc", "linear_int", "matmul", "quantize_bias",
           "quantize_fixed", "requantize", "rne_shift"]
