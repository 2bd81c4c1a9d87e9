"""Per-layer MX quantization of transformers models (OPT and LLaMA families).

    >>> from mase.quantize import quantize_model, layer_table, quantization_disabled
    >>> quantize_model(model, "mxint4")              # or a QuantConfig node
    >>> with quantization_disabled(model): ...       # the float baseline, same modules
"""

from .calibrate import calibrate, calibrate_on_text
from .kernels import LINEAR_KERNELS, MATMUL_KERNELS, fake_linear, fake_matmul, register_kernels
from .modules import ATTN_IMPL, AttentionQuant, MXLinear, mx_attention_forward, register_attention
from .plan import AttentionSpec, LayerPlan, LinearSpec, find_layers, plan_layers
from .quantizer import (
    bit_stats, layer_table, quantization_disabled, quantize_model, reset_counters, set_quantization,
)

__all__ = [
    "ATTN_IMPL", "AttentionQuant", "calibrate", "calibrate_on_text", "AttentionSpec", "LINEAR_KERNELS", "LayerPlan", "LinearSpec", "MATMUL_KERNELS",
    "MXLinear", "bit_stats", "fake_linear", "fake_matmul", "find_layers", "layer_table", "mx_attention_forward",
    "plan_layers", "quantization_disabled", "quantize_model", "register_attention", "register_kernels",
    "reset_counters", "set_quantization",
]
