"""hw.fold=auto resolved to a number before anything depends on it.

A folded design computes every decoder layer on the same hardware, so the layers share one set of stream
formats (`graph._shared_ranges`), chosen when the graph is captured. Whether `auto` folds is only known
once a graph exists (`params.choose_fold`). So `auto` is decided here on the layers' own formats, and
the graph that is emitted, simulated and scored is then captured with the chosen N: a spatial choice
keeps each layer's own formats, a folded one merges them. Every stage asks the same question of the
same quantized model (emit's prompt length, hw.prompt_tokens), so they all build the same numerics.

    >>> hw, notes = resolve_fold(model, cfg.quant, cfg.hw, cfg.target, seq_len=8)   # hw.fold: an int
"""

from __future__ import annotations

from typing import Any


def _with_fold(hw: Any, fold: int) -> Any:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(hw, DictConfig):
        return OmegaConf.merge(hw, {"fold": fold})
    return {**(hw or {}), "fold": fold}


def is_auto(hw: Any) -> bool:
    return hw is not None and hasattr(hw, "get") and hw.get("fold", 0) == "auto"


def resolve_fold(model: Any, quant_cfg: Any, hw: Any, target: Any, seq_len: int,
                 model_name: str | None = None) -> tuple[Any, list[str]]:
    """(hw with fold an int, the notes naming auto's choice). hw unchanged unless hw.fold=auto. The choice
    is kept on the model (one per target and prompt length), so every stage of a run sees the same."""
    if not is_auto(hw):
        return hw, []
    from .graph import capture
    from .params import choose_fold

    key = (str(getattr(target, "name", target)), int(seq_len), str(quant_cfg))
    memo = model.__dict__.setdefault("_mase_fold_choice", {})
    if key not in memo:
        g = capture(model, quant_cfg, seq_len=seq_len, hw=_with_fold(hw, 0), model_name=model_name)
        plan = choose_fold(g, target, hw)
        memo[key] = (plan.fold, [n for n in plan.notes if n.startswith("hw.fold=auto")])
    fold, notes = memo[key]
    return _with_fold(hw, fold), list(notes)

