"""The per-layer arithmetic, behind one small hook per operation.

A quantized layer does not compute by itself: it calls the kernel registered for `quant.mode`.
"fake" (the default) fake-quantizes operands with mase.formats and multiplies in float32. A later
"hw" mode registers golden-model functions with the same signatures, giving bit-exact hardware
numerics without touching the modules:

    register_kernels("hw", linear=golden_linear, matmul=golden_matmul)

- linear(layer, x): `layer` is an MXLinear (spec.weight/act/bias formats, `weight`, `bias`, and the
  pre-quantized `weight_q`, `bias_q`); returns layer(x).
- matmul(a, b, fmt_a, fmt_b): a @ b with a's contraction axis last (-1) and b's second to last (-2);
  leading axes broadcast as in torch.matmul. Used for Q.K^T and scores.V.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LINEAR_KERNELS: dict[str, Callable] = {}
MATMUL_KERNELS: dict[str, Callable] = {}


def register_kernels(mode: str, *, linear: Callable, matmul: Callable) -> None:
    LINEAR_KERNELS[mode] = linear
    MATMUL_KERNELS[mode] = matmul


def fake_linear(layer, x: torch.Tensor) -> torch.Tensor:
    """Activations quantized on the fly along in_features; weights/bias were quantized once."""
    y = F.linear(layer.spec.act.fake_quantize(x, axis=-1), layer.weight_q, layer.bias_q)
    return requantize_out(layer.spec.out, y)


def requantize_out(fmt, y: torch.Tensor) -> torch.Tensor:
    """The output stream's format, if the design re-quantizes it (calibrated fixed8), else y."""
    return y if fmt is None else fmt.fake_quantize(y, axis=-1)


def fake_matmul(a: torch.Tensor, b: torch.Tensor, fmt_a, fmt_b) -> torch.Tensor:
    """Both operands blocked along the contraction axis, then a float32 matmul."""
    return torch.matmul(fmt_a.fake_quantize(a, axis=-1), fmt_b.fake_quantize(b, axis=-2))


register_kernels("fake", linear=fake_linear, matmul=fake_matmul)
