"""Quantized layers: MXLinear (replaces nn.Linear) and the MX attention function.

Attention is reached through transformers' pluggable AttentionInterface: `mase_mx` is registered
once under its own name (nothing in torch or transformers is patched) and a quantized model is
switched to it with `set_attn_implementation`. Each attention module carries its own AttentionSpec
(`module.mase_attention`); a module without one computes the plain float attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .kernels import LINEAR_KERNELS, MATMUL_KERNELS, requantize_out
from .plan import AttentionSpec, LinearSpec

ATTN_IMPL = "mase_mx"


class MXLinear(nn.Module):
    """nn.Linear whose weights (and bias) are quantized once and inputs on the fly."""

    def __init__(self, linear: nn.Linear, spec: LinearSpec, name: str = "", mode: str = "fake"):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight  # the same Parameter: tied weights stay tied, float copy kept
        self.bias = linear.bias
        self.spec, self.layer_name, self.mode = spec, name, mode
        self.quant_enabled = True
        self.act_elements = 0  # input elements quantized so far (for the average activation bits)
        self.weight_float: torch.Tensor | None = None  # set when `weight` holds compensated values (set_weight)
        with torch.no_grad():
            self.register_buffer("weight_q", spec.weight.fake_quantize(self.weight.detach(), axis=-1),
                                 persistent=False)
            bq = spec.bias.fake_quantize(self.bias.detach(), axis=-1) if self.bias is not None else None
            self.register_buffer("bias_q", bq, persistent=False)

    def set_weight(self, wq: torch.Tensor) -> None:
        """Make `wq` (values on the weight format's grid, e.g. GPTQ-rounded) the weight the hardware
        gets: the compiler reads `weight` and re-quantizes it, which must return it unchanged. The
        float weights stay as `weight_float` for the float baseline."""
        wq = wq.detach().to(self.weight.dtype)
        if not torch.equal(self.spec.weight.fake_quantize(wq, axis=-1), wq):
            raise AssertionError(f"{self.layer_name}: weights written back are not on the {self.spec.weight} grid")
        if self.weight_float is None:
            self.weight_float = self.weight.detach()
        self.weight = nn.Parameter(wq, requires_grad=False)  # a new tensor: a tied weight keeps its float values
        self.weight_q = wq

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quant_enabled:
            w = self.weight if self.weight_float is None else self.weight_float
            return F.linear(x, w, self.bias)
        self.act_elements += x.numel()
        return LINEAR_KERNELS[self.mode](self, x)

    def extra_repr(self) -> str:
        s = self.spec
        return (f"in_features={self.in_features}, out_features={self.out_features}, weight={s.weight.name}, "
                f"act={s.act.name}, bias={s.bias.name}, block_size={s.block_size}, mode={self.mode}")


class AttentionQuant:
    """What one attention module needs: its spec, the kernel mode, a switch and element counters."""

    def __init__(self, spec: AttentionSpec, mode: str = "fake"):
        self.spec, self.mode, self.enabled = spec, mode, True
        self.elements = {"query": 0, "key": 0, "scores": 0, "value": 0}


def mx_attention_forward(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         attention_mask: torch.Tensor | None, scaling: float | None = None,
                         dropout: float = 0.0, **kwargs):
    """Eager attention with both matrix products through the kernel of the module's spec.

    query (b, h, s, d); key/value (b, h_kv, t, d) with h a multiple of h_kv (grouped-query attention is
    computed by broadcasting, never by copying K and V). Softmax stays float32 (quant.nonlinear).
    """
    b, h, s, d = query.shape
    h_kv, t = key.shape[1], key.shape[2]
    rep = h // h_kv
    if scaling is None:
        scaling = d**-0.5
    q5 = query.reshape(b, h_kv, rep, s, d)
    kT = key.transpose(-1, -2).unsqueeze(2)  # (b, h_kv, 1, d, t)
    v5 = value.unsqueeze(2)  # (b, h_kv, 1, t, d)
    aq: AttentionQuant | None = getattr(module, "mase_attention", None)
    if aq is not None and aq.enabled:
        spec, mm = aq.spec, MATMUL_KERNELS[aq.mode]
        aq.elements["query"] += query.numel()
        aq.elements["key"] += key.numel()
        scores = requantize_out(spec.qk_out, mm(q5, kT, spec.query, spec.key))
    else:
        aq, scores = None, torch.matmul(q5, kT)
    scores = scores.reshape(b, h, s, t) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask[..., :t]
    probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    probs = F.dropout(probs, p=dropout, training=module.training)
    p5 = probs.reshape(b, h_kv, rep, s, t)
    if aq is not None:
        aq.elements["scores"] += probs.numel()
        aq.elements["value"] += value.numel()
        out = requantize_out(spec.sv_out, mm(p5, v5, spec.scores, spec.value))
    else:
        out = torch.matmul(p5, v5)
    out = out.reshape(b, h, s, d).transpose(1, 2).contiguous()
    return out, probs


def register_attention() -> None:
    """Make `mase_mx` known to transformers (idempotent): the function and its (additive) mask."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTN_IMPL, mx_attention_forward)
    if ATTN_IMPL not in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionMaskInterface.register(ATTN_IMPL, eager_mask)
