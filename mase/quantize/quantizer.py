"""quantize_model: apply a quant config to a transformers model, in place."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from mase.errors import MaseError
from mase.report.progress import track

from .calibrate import calibrate_on_text
from .modules import ATTN_IMPL, AttentionQuant, MXLinear, register_attention
from .plan import LayerPlan, plan_layers

log = logging.getLogger("mase.quantize")


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def quantize_model(model: nn.Module, quant_cfg: Any, model_name: str | None = None, tokenizer: Any = None,
                   eval_cfg: Any = None) -> nn.Module:
    """Quantize `model` in place following `quant_cfg` (a QuantConfig node or a quant config name).

    Every planned nn.Linear becomes an MXLinear; every planned attention module gets an
    AttentionQuant and the model switches to the `mase_mx` attention implementation. The plan is
    kept as `model.mase_plan` (see layer_table). With a tokenizer and an eval config, fixed8
    activation scales are frozen, and the stream ranges the compiler sizes its fixed-point formats
    from are measured, on quant.calibration_tokens tokens of the evaluation dataset that follow the
    scored ones (mase.quantize.calibrate); without, fixed8 scales stay dynamic (per tensor) and the
    compiler keeps its default formats. Returns the model.
    """
    if isinstance(quant_cfg, str):
        from mase.config import load_group

        quant_cfg = load_group("quant", quant_cfg)
    if getattr(model, "mase_plan", None) is not None:
        raise MaseError("model is already quantized: load a fresh model before quantizing again")
    name = model_name or getattr(getattr(model, "config", None), "name_or_path", None) or type(model).__name__
    rotation = str(getattr(quant_cfg, "rotation", "none"))
    if rotation != "none":  # on the float model: the float baseline is the rotated (same-function) model
        from .rotation import massive_channels, rotate_model

        keep: list[int] = []
        if int(quant_cfg.rotation_keep):
            if tokenizer is None:
                raise MaseError("quant.rotation_keep finds the massive channels on the calibration text: "
                                "quantize_model needs the tokenizer (or set quant.rotation_keep=0)")
            from .gptq import calibration_text_ids

            ids, _ = calibration_text_ids(tokenizer, quant_cfg, eval_cfg)
            window = int(eval_cfg.window) if eval_cfg is not None else 512
            keep = massive_channels(model, ids[:window], int(quant_cfg.rotation_keep))
        model.mase_rotation = rotate_model(model, rotation, int(quant_cfg.rotation_seed),
                                           bool(quant_cfg.rotation_heads), keep, int(quant_cfg.rotation_block))
    plans = plan_layers(model, quant_cfg, name)
    mode = quant_cfg.mode
    modules = dict(model.named_modules())
    for p in track(plans, "quantizing", total=len(plans)):
        if p.spec is None:
            continue
        if p.kind == "linear":
            with torch.no_grad():
                _set_submodule(model, p.name, MXLinear(modules[p.name], p.spec, p.name, mode))
        else:
            modules[p.name].mase_attention = AttentionQuant(p.spec, mode)
    if any(p.kind == "attention" and p.spec is not None for p in plans):
        register_attention()
        try:
            model.set_attn_implementation(ATTN_IMPL)
        except Exception as exc:
            raise MaseError(f"{name}: cannot switch attention to {ATTN_IMPL} ({exc}); set "
                            f"quant.attention.enabled=false") from None
        if getattr(model.config, "_attn_implementation", None) != ATTN_IMPL:
            raise MaseError(f"{name} does not support pluggable attention; set quant.attention.enabled=false")
    apply_nonlinear(model, quant_cfg)
    model.mase_plan = plans
    model.mase_quant_name = quant_cfg.name
    gptq = None
    if (getattr(quant_cfg, "weight_rounding", "nearest") == "gptq"
            or getattr(quant_cfg, "act_scaling", "none") != "none"):  # before the ranges: they see these weights
        from .gptq import compensate_on_text

        gptq = compensate_on_text(model, tokenizer, quant_cfg, eval_cfg)
    if tokenizer is not None and eval_cfg is not None:  # fixed8 scales, and the ranges between the cores
        calibrate_on_text(model, tokenizer, eval_cfg, int(getattr(quant_cfg, "calibration_tokens", 512)))
    if gptq is not None:  # the report names both calibration texts
        model.mase_calibration = {**(getattr(model, "mase_calibration", None) or {}), "gptq": gptq["calibration"]}
        model.mase_gptq = gptq
    if getattr(model, "mase_rotation", None):  # the evaluation report carries it (kept channels: from lee.cor)
        model.mase_calibration = {**(getattr(model, "mase_calibration", None) or {}), "rotation": model.mase_rotation}
    n_q = sum(p.spec is not None for p in plans)
    log.info("quantized %d of %d layers with %s (mode %s)", n_q, len(plans), quant_cfg.name, mode)
    return model


def apply_nonlinear(model: nn.Module, quant_cfg: Any) -> list[str]:
    """Hardware-exact non-linear ops (quant.nonlinear: op -> "float" | "hw").

    The ops set to "hw" are replaced by the bit-exact golden model of the non-linear cores
    (mase.golden.nonlinear_patch.apply_hw_nonlinear: norms and activations as modules, softmax and
    RoPE through the `mase_hw` attention function, which keeps the MX matmuls of `mase_mx`).
    Returns the ops that run hardware-exact.
    """
    hw = sorted(op for op, mode in quant_cfg.nonlinear.items() if mode == "hw")
    if hw:
        from mase.golden.nonlinear_patch import apply_hw_nonlinear

        apply_hw_nonlinear(model, hw)
    return hw


def _quant_parts(model: nn.Module) -> Iterator[Any]:
    for m in model.modules():
        if isinstance(m, MXLinear):
            yield m
        aq = getattr(m, "mase_attention", None)
        if aq is not None:
            yield aq


def set_quantization(model: nn.Module, enabled: bool) -> None:
    for part in _quant_parts(model):
        if isinstance(part, MXLinear):
            part.quant_enabled = enabled
        else:
            part.enabled = enabled


@contextmanager
def quantization_disabled(model: nn.Module):
    """Run the quantized model in float (same modules, original weights): the float baseline."""
    set_quantization(model, False)
    try:
        yield model
    finally:
        set_quantization(model, True)


def layer_table(model: nn.Module) -> list[dict[str, Any]]:
    """One row per planned layer with the formats actually applied."""
    plans: list[LayerPlan] | None = getattr(model, "mase_plan", None)
    if plans is None:
        raise MaseError("model is not quantized: call mase.quantize.quantize_model(model, quant_cfg) first")
    ranges = getattr(model, "mase_ranges", None) or {}
    rows = [p.row() for p in plans]
    for r in rows:  # calibrated max |x| of the layer's input and output streams (the compiler's formats)
        if r["name"] in ranges:
            r["range"] = {k: round(v, 6) for k, v in ranges[r["name"]].items()}
    return rows


def reset_counters(model: nn.Module) -> None:
    for part in _quant_parts(model):
        if isinstance(part, MXLinear):
            part.act_elements = 0
        else:
            part.elements = dict.fromkeys(part.elements, 0)


def bit_stats(model: nn.Module) -> dict[str, Any]:
    """Average bits per weight and per activation (scale overhead included), weight memory in MB.

    - avg_weight_bits: over the weights of the quantized linear layers (biases not included).
    - avg_act_bits: over every activation element quantized during the runs since the last
      reset_counters (inputs of quantized linears, Q, K, softmax scores and V), weighted by count;
      if nothing ran yet, the static average over linear inputs (weighted by in_features).
    - weight_memory_mb: all unique parameters (10^6 bytes): quantized weights and biases at their
      format's bits, everything else (embeddings, norms, excluded layers) at 32 bits.
    """
    w_bits = w_n = 0.0
    a_bits = a_n = 0.0
    static_bits = static_n = 0.0
    quantized_ids: dict[int, float] = {}
    for part in _quant_parts(model):
        if isinstance(part, MXLinear):
            s = part.spec
            n = part.weight.numel()
            w_bits += n * s.weight.bits_per_element
            w_n += n
            quantized_ids[id(part.weight)] = s.weight.bits_per_element
            if part.bias is not None:
                quantized_ids[id(part.bias)] = s.bias.bits_per_element
            a_bits += part.act_elements * s.act.bits_per_element
            a_n += part.act_elements
            static_bits += part.in_features * s.act.bits_per_element
            static_n += part.in_features
        else:
            for f, n in part.elements.items():
                a_bits += n * getattr(part.spec, f).bits_per_element
                a_n += n
    total_bits = 0.0
    seen: set[int] = set()
    for p in model.parameters():  # parameters() yields tied tensors once
        if id(p) in seen:
            continue
        seen.add(id(p))
        total_bits += p.numel() * quantized_ids.get(id(p), 32.0)
    return {
        "avg_weight_bits": w_bits / w_n if w_n else 32.0,
        "avg_act_bits": a_bits / a_n if a_n else (static_bits / static_n if static_n else 32.0),
        "act_bits_measured": bool(a_n),
        "weight_memory_mb": total_bits / 8 / 1e6,
        "quantized_weights": int(w_n),
    }
