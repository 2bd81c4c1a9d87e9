"""Swap the float non-linear ops of a loaded Hugging Face model for the hardware-exact golden model.

    >>> from mase.golden.nonlinear_patch import apply_hw_nonlinear
    >>> apply_hw_nonlinear(model, ops={"softmax", "rmsnorm", "silu", "rope"})

Nothing global is patched: norms and activations are module replacements (``HwRMSNorm``,
``HwLayerNorm``, ``HwActivation``, ``HwSwiGLUMLP``), softmax and RoPE go through transformers'
pluggable attention interface under the name ``mase_hw`` (registered once, next to the built-in
ones) and are switched on per attention module (``module.mase_hw``).

RoPE: the model's rotary embedding module is replaced by one that returns the identity rotation
(cos = 1, sin = 0, which leaves q and k bit-for-bit unchanged), and the attention function applies
the hardware RoPE to q and k with the integer positions (``position_ids``). The keys that a KV cache
stores are therefore un-rotated; they are rotated on use with positions 0..t-1 (no left padding).

Attention matrix products keep whatever the model had: if mase.quantize put an ``AttentionQuant`` on
the module (``module.mase_attention``), its MX matmul kernels are used, as in ``mase_mx``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from . import nonlinear as G

ATTN_IMPL = "mase_hw"
OPS = ("softmax", "rmsnorm", "layernorm", "silu", "gelu", "relu", "swiglu", "rope")


@dataclass(frozen=True)
class HwConfigs:
    """Fixed-point formats of each op (defaults sized on smollm2-135m's measured ranges)."""

    softmax: G.SoftmaxConfig = field(default_factory=G.SoftmaxConfig)
    norm: G.NormConfig = field(default_factory=G.NormConfig)
    act: G.ActConfig = field(default_factory=G.ActConfig)
    swiglu: G.SwigluConfig = field(default_factory=G.SwigluConfig)
    rope: G.RopeConfig = field(default_factory=G.RopeConfig)


class HwRMSNorm(nn.Module):
    def __init__(self, weight: torch.Tensor, eps: float, cfg: G.NormConfig):
        super().__init__()
        self.weight, self.eps, self.cfg = weight, float(eps), cfg

    def forward(self, x):
        return G.hw_rmsnorm(x, self.weight.detach(), self.eps, self.cfg)


class HwLayerNorm(nn.Module):
    def __init__(self, ln: nn.LayerNorm, cfg: G.NormConfig):
        super().__init__()
        self.weight, self.bias, self.eps, self.cfg = ln.weight, ln.bias, float(ln.eps), cfg
        self.normalized_shape = ln.normalized_shape

    def forward(self, x):
        w = self.weight.detach() if self.weight is not None else None
        b = self.bias.detach() if self.bias is not None else None
        return G.hw_layernorm(x, w, b, self.eps, self.cfg)


class HwActivation(nn.Module):
    def __init__(self, func: str, cfg: G.ActConfig):
        super().__init__()
        self.func, self.cfg = func, cfg

    def forward(self, x):
        return G.hw_act(x, self.func, self.cfg)

    def extra_repr(self):
        return self.func


class HwSwiGLUMLP(nn.Module):
    """LLaMA MLP with silu(gate) * up computed by the swiglu core (same projection modules)."""

    def __init__(self, mlp: nn.Module, cfg: G.SwigluConfig):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj, self.cfg = mlp.gate_proj, mlp.up_proj, mlp.down_proj, cfg
        self.act_fn = mlp.act_fn  # kept (unused) so that the compiler still sees a SiLU-gated MLP

    def forward(self, x):
        return self.down_proj(G.hw_swiglu(self.gate_proj(x), self.up_proj(x), self.cfg))


class IdentityRotary(nn.Module):
    """Stands in for the rotary embedding: cos = 1, sin = 0 (q, k pass unchanged)."""

    def __init__(self, rotary: nn.Module):
        super().__init__()
        self.float_rotary = rotary

    def forward(self, x, position_ids):
        shape = (*position_ids.shape, self.float_rotary.inv_freq.numel() * 2)
        return torch.ones(shape, dtype=x.dtype, device=x.device), torch.zeros(shape, dtype=x.dtype, device=x.device)


@dataclass
class HwAttention:
    """What the `mase_hw` attention function does for one module."""

    softmax: G.SoftmaxConfig | None = None
    rope: G.RopeConfig | None = None
    rope_freqs: tuple[int, ...] = ()  # nonlinear_tables.rope_freqs of the model (the rope core's FREQS)


def hw_softmax_additive(scores: torch.Tensor, attention_mask: torch.Tensor | None, cfg: G.SoftmaxConfig):
    """Golden softmax of scores (b, h, s, t) under an additive float mask (kept where mask is 0-ish)."""
    keep = None
    if attention_mask is not None:
        m = attention_mask[..., : scores.shape[-1]]
        keep = (m > torch.finfo(m.dtype).min / 2).expand(scores.shape)
        scores = scores + m.clamp(min=-1e4)  # padding-style finite biases still apply; -inf-ish masked out
    return G.hw_softmax(scores, keep, cfg)


def _rope_qk(query, key, position_ids, hw: HwAttention):
    s, t = query.shape[2], key.shape[2]
    if position_ids is None:
        position_ids = torch.arange(t - s, t, device=query.device)[None]
    qpos = position_ids[:, None, :]  # (b, 1, s)
    kpos = qpos if t == s else torch.arange(t, device=key.device)[None, None, :]
    q = G.hw_rope(query, qpos, hw.rope_freqs, hw.rope)
    k = G.hw_rope(key, kpos, hw.rope_freqs, hw.rope)
    return q, k


def hw_attention_forward(module: nn.Module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Eager attention (grouped-query by broadcasting) with the module's hardware-exact ops."""
    hw: HwAttention = getattr(module, "mase_hw", None) or HwAttention()
    if hw.rope is not None:
        query, key = _rope_qk(query, key, kwargs.get("position_ids"), hw)
    b, h, s, d = query.shape
    h_kv, t = key.shape[1], key.shape[2]
    rep = h // h_kv
    scaling = d**-0.5 if scaling is None else scaling
    q5 = query.reshape(b, h_kv, rep, s, d)
    kT = key.transpose(-1, -2).unsqueeze(2)
    v5 = value.unsqueeze(2)
    aq = getattr(module, "mase_attention", None)
    mm = None
    if aq is not None and getattr(aq, "enabled", False):
        from mase.quantize.kernels import MATMUL_KERNELS, requantize_out

        mm = MATMUL_KERNELS[aq.mode]
        aq.elements["query"] += query.numel()
        aq.elements["key"] += key.numel()
        aq.elements["scores"] += b * h * s * t
        aq.elements["value"] += value.numel()
        scores = requantize_out(aq.spec.qk_out, mm(q5, kT, aq.spec.query, aq.spec.key))
    else:
        scores = torch.matmul(q5, kT)
    if hw.softmax is not None:  # as the hardware: the scores x 2**-sh, c in the exp unit (1/sqrt(d) = 2**-sh c)
        full = float(getattr(module, "scaling", d**-0.5))  # 1/sqrt(d); OPT scaled q already (scaling = 1)
        sh, c = G.split_scaling(full)
        scores = scores.reshape(b, h, s, t) * (scaling * 2.0**-sh / full)  # LLaMA: exactly 2**-sh
        mask = attention_mask if attention_mask is None or c == 1.0 else attention_mask / c
        cfg = replace(hw.softmax, log2e_q=G.softmax_log2e_q(c))
        probs = hw_softmax_additive(scores, mask, cfg).to(query.dtype)
    else:
        scores = scores.reshape(b, h, s, t) * scaling
        if attention_mask is not None:
            scores = scores + attention_mask[..., :t]
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    p5 = probs.reshape(b, h_kv, rep, s, t)
    if mm is not None:
        out = requantize_out(aq.spec.sv_out, mm(p5, v5, aq.spec.scores, aq.spec.value))
    else:
        out = torch.matmul(p5, v5)
    return out.reshape(b, h, s, d).transpose(1, 2).contiguous(), probs


def register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTN_IMPL, hw_attention_forward)
    if ATTN_IMPL not in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionMaskInterface.register(ATTN_IMPL, eager_mask)


def _is_attention(m: nn.Module) -> bool:
    return type(m).__name__.endswith("Attention") and hasattr(m, "config") and hasattr(m, "is_causal")


_ACT_CLASSES = {"silu": ("SiLU", "SiLUActivation"), "relu": ("ReLU", "ReLUActivation"),
                "gelu": ("GELU", "GELUActivation")}


def apply_hw_nonlinear(model: nn.Module, ops=OPS, cfg: HwConfigs | None = None) -> dict[str, int]:
    """Replace the float ops named in `ops` by the golden model, in place; returns counts per op.

    ops: subset of softmax, rmsnorm, layernorm, silu, gelu, relu, swiglu (the whole silu(gate) * up of
    a LLaMA MLP; implies silu there), rope. Ops the model does not have are skipped (count 0).
    """
    ops = set(ops)
    unknown = ops - set(OPS)
    if unknown:
        raise ValueError(f"unknown non-linear ops {sorted(unknown)}: choose from {', '.join(OPS)}")
    cfg = cfg or HwConfigs()
    counts = {op: 0 for op in ops}
    for name, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            cls = type(child).__name__
            new = None
            if "rmsnorm" in ops and cls.endswith("RMSNorm"):
                eps = getattr(child, "variance_epsilon", getattr(child, "eps", 1e-6))
                new, op = HwRMSNorm(child.weight, eps, cfg.norm), "rmsnorm"
            elif "layernorm" in ops and isinstance(child, nn.LayerNorm):
                new, op = HwLayerNorm(child, cfg.norm), "layernorm"
            elif "swiglu" in ops and all(hasattr(child, a) for a in ("gate_proj", "up_proj", "down_proj", "act_fn")):
                new, op = HwSwiGLUMLP(child, cfg.swiglu), "swiglu"
            else:
                for func, names in _ACT_CLASSES.items():
                    if func in ops and cls in names:
                        new, op = HwActivation(func, cfg.act), func
            if new is not None:
                setattr(mod, cname, new)
                counts[op] += 1
    if ops & {"softmax", "rope"}:
        register_attention()
        rope_freqs = None
        if "rope" in ops:
            from . import nonlinear_tables as T

            for name, mod in list(model.named_modules()):
                for cname, child in list(mod.named_children()):
                    if type(child).__name__.endswith("RotaryEmbedding") and hasattr(child, "inv_freq"):
                        rope_freqs = T.rope_freqs(child, cfg.rope.phase_f)  # the table the rope core gets
                        setattr(mod, cname, IdentityRotary(child))
        for _, mod in model.named_modules():
            if _is_attention(mod):
                hw = HwAttention()
                if "softmax" in ops:
                    hw.softmax = cfg.softmax
                    counts["softmax"] += 1
                if rope_freqs is not None:
                    hw.rope, hw.rope_freqs = cfg.rope, rope_freqs
                    counts["rope"] += 1
                mod.mase_hw = hw
        model.set_attn_implementation(ATTN_IMPL)
    return counts
