"""Refuse, before any work, a run whose hardware stages could not build what its config describes.

A run that asks for hardware (emit, lint, sim, synth or pnr in `stages`) is checked here from the
config alone, before the model is loaded, quantized or evaluated, so that a format the cores cannot
compute fails in one line naming the fix instead of in `emit` after minutes of work:

    >>> check_hardware(cfg)     # MaseError, or None when the hardware stages can run

Checks: every operand format of the linear layers and of the two attention products (and
hw.linear_out) has a core element type; the attention products are quantized; the exact block sums
of every operand pair fit the 62-bit integers of the golden model (mxfp8_e5m2 x mxfp8_e5m2 does not).
Sizes that are not whole blocks need no check: the cores zero-pad them as the MX numerics do.
"""

from __future__ import annotations

from typing import Any

from mase.errors import MaseError
from mase.eda.mx_linear import FORMAT_PARAMS

HW_STAGES = ("emit", "lint", "sim", "synth", "pnr")
SUM_BITS = 62  # |exact block sum| < 2**62: the golden model's int64 block products (mase.golden.linear)
NO_HW = "or run without the hardware stages (stages=[quantize,evaluate,report])"


def _operand(name: Any, where: str) -> str:
    name = str(name)
    if name not in FORMAT_PARAMS:
        raise MaseError(f"{where}={name} has no hardware element type: choose one of {', '.join(FORMAT_PARAMS)}, "
                        f"{NO_HW}")
    return name


def _max_int(name: str) -> int:
    """Largest |integer| of an element as the multipliers see it (mase.golden.linear.ElemSpec)."""
    from mase.golden.linear import elem_spec

    return elem_spec(name).max_int


def _pair(a: str, b: str, block: int, where: str) -> None:
    bound = _max_int(a) * _max_int(b) * block
    if bound >= 1 << SUM_BITS:
        fix = "use mxfp8 (E4M3) for one of them" if "mxfp8_e5m2" in (a, b) else "use a narrower format for one of them"
        raise MaseError(f"{where}: {a} x {b} in blocks of {block} is not supported in hardware (exact block sums "
                        f"reach 2^{bound.bit_length()}, the cores and golden model hold below 2^{SUM_BITS}): {fix}, "
                        f"{NO_HW}")


def _plain(node: Any) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node or {})


LINEAR, ATTENTION = ("act", "weight"), ("query", "key", "scores", "value")


def check_hardware(cfg: Any, stages: list[str] | None = None) -> None:
    """MaseError (one line) if cfg asks for hardware stages (`stages`, default cfg.stages) that its
    quant config cannot reach."""
    stages = [str(s) for s in (stages if stages is not None else cfg.get("stages") or [])]
    if not any(s in HW_STAGES for s in stages):
        return
    from mase.cores import require_library

    require_library()  # an install without the core library fails here, not as "0 of N nodes mapped"
    q = cfg.quant
    if not q.attention.enabled:
        raise MaseError("quant.attention.enabled=false keeps the attention products in float, which the hardware "
                        f"cannot compute: set quant.attention.enabled=true, {NO_HW}")
    hw = cfg.get("hw")
    if hw is not None and hw.get("linear_out") is not None:
        _operand(hw.linear_out, "hw.linear_out")
    lin, att = _plain(q.default), _plain(q.attention)
    for f in LINEAR:
        _operand(lin[f], f"quant.default.{f}")
    for f in ATTENTION:
        if att[f] is not None:
            _operand(att[f], f"quant.attention.{f}")
    base = {**{f: lin[f] for f in LINEAR}, **{f: att[f] or lin["act"] for f in ATTENTION}}
    _pairs(base, q.block_size, "quant.default")
    for pattern, ov in _plain(q.overrides).items():
        where = f"quant.overrides[{pattern!r}]"
        own = {f: ov.get(f) for f in LINEAR + ATTENTION if ov.get(f) is not None}
        for f, name in own.items():
            _operand(name, f"{where}.{f}")
        ops = {**base, **own}
        for f in ATTENTION:  # an attention operand left unset follows the activations of its scope
            if f not in own and att[f] is None:
                ops[f] = ops["act"]
        _pairs(ops, ov.get("block_size") or q.block_size, where)


def _pairs(ops: dict, block: int, where: str) -> None:
    for x, y in (("act", "weight"), ("query", "key"), ("scores", "value")):
        _pair(ops[x], ops[y], block, f"{where} ({x} x {y})")


def require_complete(g: Any, plan: Any) -> None:
    """A design with a node no core computes is refused (never simulated with the testbench standing
    in for the missing nodes and reported as a success)."""
    from mase.compiler.emit import map_graph

    _, missing = map_graph(g, plan)
    if missing:
        name, u = next(iter(missing.items()))
        raise MaseError(f"{len(missing)} of {len(g.nodes)} nodes have no hardware core, e.g. {name}: {u.reason}")


def check_prompt_length(model: Any, tokens: int, name: str) -> None:
    context = getattr(model.config, "max_position_embeddings", None)
    if context and tokens > context:
        raise MaseError(f"hw.prompt_tokens={tokens} exceeds the context of {name} ({context} tokens)")


def check_model(ctx: Any, stages: list[str]) -> None:
    """Before a run does work ahead of `emit` (quantize, evaluate), capture the float model's graph
    and map it: an operator, RoPE variant or shape no core computes, or a design that does not fit
    the target, fails here in one line instead of after minutes of quantization and evaluation."""
    if "emit" not in stages or stages.index("emit") == 0:
        return
    from mase.compiler.graph import capture
    from mase.compiler.params import choose_parameters

    cfg = ctx.cfg
    hw = cfg.get("hw")
    ctx.ensure_model()
    T = int(hw.prompt_tokens) if hw is not None else 8
    check_prompt_length(ctx.model, T, cfg.model.name)
    g = capture(ctx.model, cfg.quant, seq_len=T, hw=hw, model_name=cfg.model.name, structure_only=True)
    require_complete(g, choose_parameters(g, cfg.target, hw))
