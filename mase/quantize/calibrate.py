"""Static scales for fixed-point activations (the fixed8 baseline), frozen by a calibration pass.

A streaming fixed-point datapath (as hls4ml or FINN build it) cannot look at a whole tensor before
choosing its scale, so every activation site of a fixed8 layer gets one power-of-two exponent,
frozen from the largest |x| it sees over calibration tokens. The frozen formats replace the specs of
the modules and of `model.mase_plan`, so the software model and the generated hardware
(mase.compiler.graph reads the plan) use the same scales. Sites: the input and the output stream of
every fixed8 MXLinear, and the four operands and two outputs of every fixed8 attention (the outputs
because a fixed8 design re-quantizes linear and matmul outputs to fixed8, as its hardware does).

    >>> calibrate(model, ids[:512], window=512)     # after quantize_model(model, "fixed8")

The same pass records the range (max |x|) of every linear layer's input and output stream
(`calibrate_ranges`), from which the compiler sizes the fixed-point formats between the cores
(mase.compiler.graph.stream_format). The calibration text is the evaluation dataset's text after the
scored tokens (`calibration_ids`): never the scored text itself.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from mase.errors import MaseError
from mase.formats.fixed import FixedFormat

from .modules import MXLinear
from .plan import STATIC_SITES

log = logging.getLogger("mase.quantize")


class Observer:
    """Stands in for a format during calibration: records max finite |x| and passes x through."""

    def __init__(self, fmt: FixedFormat):
        self.fmt, self.amax = fmt, 0.0

    @property
    def name(self) -> str:
        return self.fmt.name

    @property
    def bits_per_element(self) -> float:
        return self.fmt.bits_per_element

    def fake_quantize(self, x: torch.Tensor, axis: int = -1) -> torch.Tensor:
        mag = x.detach().abs().float()
        mag = torch.where(torch.isfinite(mag), mag, 0.0)
        if mag.numel():
            self.amax = max(self.amax, float(mag.max()))
        return x



def _forward_windows(model, ids, window: int) -> None:
    """One calibration pass: the calibration tokens through the model, window by window."""
    if ids.numel() < 2:
        raise MaseError("quant.calibration_tokens: calibration needs at least 2 tokens")
    with torch.no_grad():
        for start in range(0, ids.numel(), window):
            model(ids[start:start + window][None])

def is_dynamic_fixed(fmt: Any) -> bool:
    """A per-tensor fixed-point format whose scale is still taken from each tensor."""
    return isinstance(fmt, FixedFormat) and fmt.frac_bits is None and not fmt.static


def _site_format(spec: Any, kind: str, field: str) -> FixedFormat | None:
    """The format a site gets: its own, or for the output streams that of the operands (fixed8 out)."""
    fmt = getattr(spec, field)
    if fmt is None:  # an output stream: fixed8 when the layer's inputs are fixed8
        src = spec.act if kind == "linear" else (spec.query if field == "qk_out" else spec.scores)
        fmt = src if is_dynamic_fixed(src) else None
    return fmt if is_dynamic_fixed(fmt) else None


def _parts(model: nn.Module) -> list[tuple[Any, str, Any]]:
    """(holder, kind, plan) of every quantized layer: the holder owns the `spec` the kernels read."""
    plans = {p.name: p for p in getattr(model, "mase_plan", None) or []}
    out = []
    for name, m in model.named_modules():
        if isinstance(m, MXLinear) and name in plans:
            out.append((m, "linear", plans[name]))
        aq = getattr(m, "mase_attention", None)
        if aq is not None and name in plans:
            out.append((aq, "attention", plans[name]))
    return out


def _set_spec(holder: Any, plan: Any, spec: Any) -> None:
    holder.spec = spec
    plan.spec = spec


def calibrate(model: nn.Module, ids: torch.Tensor, window: int) -> dict[str, dict[str, int]]:
    """Freeze the scale of every dynamic fixed-point activation site from max |x| over `ids` (1-D
    token ids, run in windows of `window` tokens with quantization of those sites off). Returns
    {layer: {site: exponent}} (also in layer_table). MX sites are untouched."""
    observed: list[tuple[Any, Any, Any, dict[str, Observer]]] = []
    for holder, kind, plan in _parts(model):
        obs = {f: Observer(fmt) for f in STATIC_SITES[kind] if (fmt := _site_format(holder.spec, kind, f))}
        if obs:
            observed.append((holder, plan, holder.spec, obs))
            _set_spec(holder, plan, replace(holder.spec, **obs))
    if not observed:
        return {}
    try:
        _forward_windows(model, ids, window)
    finally:
        for holder, plan, spec, _ in observed:  # back to the original specs if the pass failed
            _set_spec(holder, plan, spec)
    frozen: dict[str, dict[str, int]] = {}
    for holder, plan, spec, obs in observed:
        fmts = {f: o.fmt.frozen(o.amax) for f, o in obs.items()}
        _set_spec(holder, plan, replace(spec, **fmts))
        frozen[plan.name] = {f: fmt.scale_exp for f, fmt in fmts.items()}
    log.info("calibrated %d fixed-point activation scales of %d layers on %d tokens",
             sum(len(v) for v in frozen.values()), len(frozen), ids.numel())
    return frozen


def calibrate_ranges(model: nn.Module, ids: torch.Tensor, window: int) -> dict[str, dict[str, float]]:
    """max |x| of the input and the output of every nn.Linear / MXLinear of the decoder over `ids` (run
    in windows of `window` tokens as the model computes, quantized), plus for q/k projections the
    largest norm of a RoPE pair (x_i, x_(i+d/2)) of a head, which bounds the rotated values at any
    position. Kept as `model.mase_ranges` ({module: {"in", "out"[, "rot"]}}); mase.compiler.graph
    chooses the fixed-point formats between the cores from them."""
    conf = getattr(model, "config", None)
    heads = getattr(conf, "num_attention_heads", 0) or 0
    hd = getattr(conf, "head_dim", None) or (conf.hidden_size // heads if heads else 0)
    ranges: dict[str, dict[str, float]] = {}

    def amax(t: torch.Tensor) -> float:
        t = t.detach().float().abs()
        t = torch.where(torch.isfinite(t), t, 0.0)
        return float(t.max()) if t.numel() else 0.0

    def hook(name: str):
        def fn(mod, inp, out):
            r = ranges.setdefault(name, {"in": 0.0, "out": 0.0})
            r["in"] = max(r["in"], amax(inp[0]))
            r["out"] = max(r["out"], amax(out))
            if hd and name.endswith(("q_proj", "k_proj")) and out.shape[-1] % hd == 0:
                o = out.detach().float().reshape(*out.shape[:-1], -1, hd)
                pair = torch.sqrt(o[..., : hd // 2] ** 2 + o[..., hd // 2:] ** 2)
                r["rot"] = max(r.get("rot", 0.0), amax(pair))
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (nn.Linear, MXLinear)) and ".layers." in n]
    try:
        _forward_windows(model, ids, window)
    finally:
        for h in handles:
            h.remove()
    model.mase_ranges = ranges
    log.info("calibrated the ranges of %d linear layers' streams on %d tokens", len(ranges), ids.numel())
    return ranges


def calibration_ids(tokenizer: Any, eval_cfg: Any, tokens: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """`tokens` ids of the evaluation dataset right after the scored ones (disjoint from them), and
    what they are: {"dataset", "tokens": [first, end), "scored": [0, eval.tokens]}."""
    from mase.evaluate import eval_tokens

    scored = int(eval_cfg.tokens) + 1
    try:
        ids, used = eval_tokens(tokenizer, eval_cfg.dataset, scored + tokens - 1)
    except MaseError:
        raise MaseError(f"dataset {eval_cfg.dataset} has too few tokens for eval.tokens={eval_cfg.tokens} plus "
                        f"quant.calibration_tokens={tokens} after them: lower one of the two") from None
    info = {"dataset": used, "tokens": [scored, scored + tokens], "scored": [0, scored]}
    return ids[scored:scored + tokens], info


def needs_calibration(model: nn.Module) -> bool:
    return any(_site_format(h.spec, kind, f) for h, kind, _ in _parts(model) for f in STATIC_SITES[kind])


def calibrate_on_text(model: nn.Module, tokenizer: Any, eval_cfg: Any, tokens: int) -> dict[str, dict[str, int]]:
    """calibrate() (fixed8 scales, if any) and calibrate_ranges() (the streams between the cores) on
    `tokens` tokens of the evaluation dataset that follow the scored ones (disjoint from them), in
    evaluation windows; `model.mase_calibration` names the text."""
    if tokens < 2:
        raise MaseError(f"quant.calibration_tokens={tokens}: calibration needs at least 2 tokens")
    ids, info = calibration_ids(tokenizer, eval_cfg, tokens)
    frozen = calibrate(model, ids, int(eval_cfg.window)) if needs_calibration(model) else {}
    calibrate_ranges(model, ids, int(eval_cfg.window))
    model.mase_calibration = info
    return frozen
