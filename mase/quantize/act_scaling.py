"""Activation-aware per-input-channel scaling (AWQ-style, quant.act_scaling=awq), folded into the model.

A linear layer computes x W^T = (x / s) (W diag(s))^T for any per-input-channel s > 0. Scaling up
the columns of W that meet large inputs gives them more of their MX blocks' precision, and dividing
x by s flattens the outlier channels the activations' blocks share a scale with. s is folded into
the layer before (an RMSNorm gain for q/k/v and gate/up, the rows of up_proj for down_proj), so the
model computes the same function in float and the hardware is unchanged: the norm core and the
linear cores read the new gains and weights.

Per group, s = mean|x|^alpha (normalised to geometric mean 1), alpha from a grid, the one with the
smallest output error of the quantized group (weights and activations quantized) on calibration
inputs; alpha = 0 (no scaling) is in the grid, so a group never gets worse on those inputs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .modules import MXLinear

ALPHAS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75)


def _groups(layer: nn.Module) -> list[tuple[nn.Module, list[MXLinear], str]]:
    """(module the scale folds into, linears reading the same input, how) of a LLaMA decoder layer."""
    attn, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
    out = []
    if attn is not None and hasattr(layer, "input_layernorm"):
        lins = [getattr(attn, n, None) for n in ("q_proj", "k_proj", "v_proj")]
        out.append((layer.input_layernorm, lins, "norm"))
    if mlp is not None and hasattr(layer, "post_attention_layernorm"):
        lins = [getattr(mlp, n, None) for n in ("gate_proj", "up_proj")]
        out.append((layer.post_attention_layernorm, lins, "norm"))
    if mlp is not None and isinstance(getattr(mlp, "down_proj", None), MXLinear):
        out.append((mlp.up_proj, [mlp.down_proj], "rows"))
    return [(src, lins, how) for src, lins, how in out
            if all(isinstance(m, MXLinear) for m in lins) and getattr(src, "weight", None) is not None
            and getattr(src, "bias", None) is None]


def _group_error(x: torch.Tensor, lins: list[MXLinear], s: torch.Tensor, ref: list[torch.Tensor]) -> float:
    err = 0.0
    for m, y in zip(lins, ref):
        wq = m.spec.weight.fake_quantize(m.weight.detach() * s, axis=-1)
        xq = m.spec.act.fake_quantize(x / s, axis=-1)
        err += float(((xq @ wq.T - y) ** 2).mean())
    return err


def scale_layer(layer: nn.Module, inputs: dict[nn.Module, torch.Tensor]) -> dict[str, float]:
    """Choose and fold the scales of one decoder layer; `inputs` maps a linear to its calibration
    inputs (tokens, in_features). Returns {first linear's name: alpha chosen}."""
    chosen: dict[str, float] = {}
    for src, lins, how in _groups(layer):
        x = inputs[lins[0]].float()
        ref = [x @ m.weight.detach().float().T for m in lins]
        mag = x.abs().mean(0).clamp(min=1e-5)
        best, best_err = None, None
        for a in ALPHAS:
            s = mag**a
            s = s / (s.max() * s.min()).sqrt()
            e = _group_error(x, lins, s, ref)
            if best_err is None or e < best_err:
                best, best_err = (a, s), e
        a, s = best
        chosen[lins[0].layer_name] = a
        if a == 0.0:
            continue
        with torch.no_grad():
            if how == "norm":
                src.weight.div_(s.to(src.weight.dtype))
            else:  # the rows of the linear before: its outputs are the inputs of the group
                src.weight.div_(s.to(src.weight.dtype).unsqueeze(1))
                _refresh(src)
            for m in lins:
                m.weight.mul_(s.to(m.weight.dtype))
                _refresh(m)
    return chosen


def _refresh(m: Any) -> None:
    """Re-quantize an MXLinear's weights after its float weights changed."""
    if isinstance(m, MXLinear):
        m.weight_q = m.spec.weight.fake_quantize(m.weight.detach(), axis=-1)
