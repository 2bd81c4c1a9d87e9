"""One search trial inside the Hydra task: picks -> quant.overrides, the budget, the objectives.

`mase.cli.app` calls `prepare` before the run and `objectives` after it; what `objectives` returns is
the task function's return value, so any Hydra sweeper (Optuna's here) can drive mase. A trial over
the budget is repaired (search.repair, with a sensitivity table): the greedy rule of the sensitivity
pass lowers its slots until it fits, and the repaired config runs (the sampler learns the value of what
it suggested, through a fixed map; search.json keeps both); without a table it is not run: it returns
search.penalty for every objective except avg_weight_bits (its real value, computed from the layer
shapes), and leaves search.json in its folder.

Objectives (all minimised): ppl, delta_ppl_pct, avg_weight_bits, avg_act_bits, weight_memory_mb, and
from the analytical hardware model (mase.compiler: graph capture, parameters, cycle and energy model,
no Verilator): energy_per_token (uJ), lut, onchip_weight_mb.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf, open_dict

from mase.errors import MaseError
from mase.config.validate import SEARCH_HW_OBJECTIVES as HW_OBJECTIVES, SEARCH_REPORT_OBJECTIVES as REPORT_OBJECTIVES

from . import space as sp

log = logging.getLogger("mase")
OBJECTIVES = REPORT_OBJECTIVES + HW_OBJECTIVES
TRIAL_FILE = "search.json"


@dataclass
class TrialInfo:
    picks: dict[str, str]
    avg_weight_bits: float
    over_budget: bool
    seconds: dict[str, float] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)
    suggested: dict[str, str] | None = None  # the sampler's picks, when over budget and repaired into `picks`


def sweep_dir() -> Path | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir)


def prepare(cfg: Any, model: Any = None) -> TrialInfo | None:
    """cfg with search.pick applied to quant.overrides (in place); None when nothing is picked."""
    picks = {str(k): str(v) for k, v in (cfg.search.pick or {}).items()}
    if not picks:
        return None
    t0 = time.perf_counter()
    space = sp.space_for(cfg, sweep_dir(), model)
    sp.check_picks(space, picks)
    default = sp.choice_name(str(cfg.quant.default.weight), int(cfg.quant.block_size))
    bits = sp.avg_weight_bits(space, picks, default)
    budget = cfg.search.budget
    suggested = None
    if budget is not None and bits > float(budget) + 1e-9 and cfg.search.repair:
        from .sensitivity import repair

        fixed = repair(sweep_dir(), space, {k: picks.get(k, default) for k in space.slots}, float(budget), cfg.search.high)
        if fixed is not None:
            log.info("trial over budget (%.3f average weight bits): lowered to %.3f by the sensitivity table's greedy "
                     "rule", bits, sp.avg_weight_bits(space, fixed, default))
            suggested, picks = picks, fixed
            bits = sp.avg_weight_bits(space, picks, default)
    with_overrides(cfg.quant, sp.overrides(space, picks))
    extra = OmegaConf.to_container(cfg.extra, resolve=True) if cfg.extra else {}
    extra["search"] = {"picks": picks, "avg_weight_bits_planned": bits, **({"suggested": suggested} if suggested else {})}
    cfg.extra = extra  # report.json records the picks next to the formats they gave
    return TrialInfo(picks, bits, budget is not None and bits > float(budget) + 1e-9,
                     {"prepare": time.perf_counter() - t0}, t0, suggested)


def with_overrides(quant: Any, entries: dict[str, dict[str, Any]]) -> None:
    with open_dict(quant.overrides):  # a free-keyed dict of the schema; each entry becomes a LayerOverride
        quant.merge_with({"overrides": entries})


def penalty(cfg: Any, info: TrialInfo, out_dir: Path) -> float | tuple[float, ...]:
    values = [info.avg_weight_bits if o == "avg_weight_bits" else float(cfg.search.penalty)
              for o in cfg.search.objectives]
    log.info("trial over budget: %.3f average weight bits > search.budget=%s; not evaluated", info.avg_weight_bits,
             cfg.search.budget)
    _write(out_dir, cfg, info, dict(zip(cfg.search.objectives, values)))
    return _ret(values)


def _ret(values: list[float]) -> float | tuple[float, ...]:
    return values[0] if len(values) == 1 else tuple(values)


def _write(out_dir: Path, cfg: Any, info: TrialInfo | None, values: dict[str, Any], extra: dict | None = None) -> None:
    from mase.files import write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    rec = {"objectives": values, "over_budget": bool(info and info.over_budget),
           "picks": info.picks if info else {}, "suggested": info.suggested if info else None,
           "avg_weight_bits": info.avg_weight_bits if info else None,
           "budget": cfg.search.budget, "seconds": info.seconds if info else {}, **(extra or {})}
    write_atomic(out_dir / TRIAL_FILE, json.dumps(rec, indent=1, default=float))


def objectives(cfg: Any, ctx: Any, info: TrialInfo | None) -> float | tuple[float, ...] | None:
    """The values the task returns (search.objectives in order); None when an objective was not measured
    and no search is set up (a plain run without evaluate)."""
    names = list(cfg.search.objectives)
    rep = ctx.results.get("report") or {}
    values: dict[str, Any] = {n: rep.get(n) for n in names if n in REPORT_OBJECTIVES}
    hw = {}
    if any(n in HW_OBJECTIVES for n in names):
        hw = hw_cost(ctx)
    elif info is not None or cfg.search.name:  # 0.1 s on smollm2-135m: every trial's energy for the plot
        try:
            hw = hw_cost(ctx)
        except Exception as exc:  # e.g. fp32, which no core computes: not an objective here, so no failure
            log.info("no analytical hardware figures for this config: %s: %s", type(exc).__name__, exc)
    values.update({n: hw[n] for n in names if n in HW_OBJECTIVES})
    missing = [n for n in names if values.get(n) is None]
    if missing:
        if info is None and not cfg.search.name:
            return None
        raise MaseError(f"search objective {missing[0]} was not measured: add the evaluate and report stages")
    if info is not None:
        info.seconds["trial"] = time.perf_counter() - info.t0  # picks to objectives, model copy included
    if info is not None or cfg.search.name:
        _write(ctx.out_dir, cfg, info, values, {"hardware": hw} if hw else None)
    return _ret([float(values[n]) for n in names])


def hw_cost(ctx: Any) -> dict[str, float]:
    """Energy per token, LUT and on-chip weight memory from the analytical hardware model: the graph of
    the quantized model, its parameters, the decode cycle model and the energy model (what hw_report
    reports without simulation or synthesis)."""
    from mase.compiler.graph import capture
    from mase.compiler.params import choose_parameters, decode_model
    from mase.compiler.report import energy_per_token
    from mase.compiler.stages import resolved_hw

    t0 = time.perf_counter()
    cfg = ctx.cfg
    ctx.ensure_model()
    T = int(cfg.hw.prompt_tokens)
    hw = resolved_hw(ctx)[0]  # hw.fold=auto decided as emit decides it
    g = capture(ctx.model, cfg.quant, seq_len=T, hw=hw, model_name=cfg.model.name)
    plan = choose_parameters(g, cfg.target, hw)
    dec = decode_model(g, plan, int(cfg.hw.decode_context) or T)
    tok_s = float(cfg.target.clock_mhz) * 1e6 / max(1, dec["ii_cycles"])
    if dec.get("tokens_per_s_offchip_cap"):
        tok_s = min(tok_s, dec["tokens_per_s_offchip_cap"])
    e = energy_per_token(g, plan, tok_s)
    return {"energy_per_token": e["energy_per_token_uj"], "lut": float(plan.totals.get("lut", 0)),
            "onchip_weight_mb": plan.onchip_weight_bits / 8e6, "tokens_per_s": tok_s,
            "seconds": time.perf_counter() - t0}


_FLOAT_MODELS: dict[str, tuple[Any, Any]] = {}


def model_kwargs(cfg: Any) -> dict[str, Any]:
    """A copy of the float model loaded once per process for a search's trials (run(..., **kwargs))."""
    if not cfg.search.name:
        return {}
    key = json.dumps(OmegaConf.to_container(cfg.model, resolve=True), sort_keys=True)
    if key not in _FLOAT_MODELS:
        from mase.models import load_model

        _FLOAT_MODELS.clear()
        _FLOAT_MODELS[key] = load_model(cfg.model)
    model, tok = _FLOAT_MODELS[key]
    return {"model": copy.deepcopy(model), "tokenizer": tok}
