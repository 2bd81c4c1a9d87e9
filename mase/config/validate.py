"""Semantic checks that the dataclass types cannot express. Each failure is one MaseError line."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from mase.formats import BLOCK_SIZES, get_format

from .errors import MaseError
from .schema import NONLINEAR_OPS

MODEL_SOURCES = ("hf", "gguf", "tiny")
MODEL_FAMILIES = ("llama", "opt", "gpt2", "auto")
DATASETS = ("auto", "wikitext2", "lee", "enwiki")
# nonlinear modes: "float" (the model's own op) or "hw" (the hardware-exact golden model,
# mase.golden.nonlinear_patch.apply_hw_nonlinear, wired in mase.quantize.quantizer.apply_nonlinear).
NONLINEAR_MODES = ("float", "hw")


def check_format(name: Any, where: str, block_size: int = 32):
    try:
        return get_format(name, block_size=block_size)
    except ValueError as exc:
        raise MaseError(f"{where}: {exc}") from None


def validate_quant(q: Any) -> None:
    from mase.quantize.kernels import LINEAR_KERNELS

    if q.mode not in LINEAR_KERNELS:
        raise MaseError(f"quant.mode={q.mode!r} is not a registered kernel: choose one of {', '.join(LINEAR_KERNELS)}")
    if q.block_size not in BLOCK_SIZES:
        raise MaseError(f"quant.block_size={q.block_size}: choose one of {', '.join(map(str, BLOCK_SIZES))}")
    for field in ("weight", "act", "bias"):
        check_format(q.default[field], f"quant.default.{field}", q.block_size)
    for field in ("query", "key", "scores", "value"):
        if q.attention[field] is not None:
            check_format(q.attention[field], f"quant.attention.{field}", q.block_size)
    for pattern, ov in q.overrides.items():
        bs = ov.block_size if ov.block_size is not None else q.block_size
        if bs not in BLOCK_SIZES:
            raise MaseError(f"quant.overrides[{pattern!r}].block_size={bs}: choose one of {', '.join(map(str, BLOCK_SIZES))}")
        for field in ("weight", "act", "bias", "query", "key", "scores", "value"):
            if ov[field] is not None:
                check_format(ov[field], f"quant.overrides[{pattern!r}].{field}", bs)
    for op, mode in q.nonlinear.items():
        if op not in NONLINEAR_OPS:
            raise MaseError(f"quant.nonlinear.{op}: unknown operator; valid operators: {', '.join(NONLINEAR_OPS)}")
        if mode not in NONLINEAR_MODES:
            raise MaseError(f"quant.nonlinear.{op}={mode!r} is not supported: use 'float' or 'hw'")


def validate_model(m: Any) -> None:
    if m.source not in MODEL_SOURCES:
        raise MaseError(f"model.source={m.source!r}: choose one of {', '.join(MODEL_SOURCES)}")
    if m.family not in MODEL_FAMILIES:
        raise MaseError(f"model.family={m.family!r}: choose one of {', '.join(MODEL_FAMILIES)}")
    if m.source == "hf" and not m.hf_id:
        raise MaseError("model.hf_id is empty: give a Hugging Face id, e.g. +model=hf model.hf_id=facebook/opt-125m")
    if m.source == "gguf" and not (m.gguf_package and m.gguf_file):
        raise MaseError(f"model {m.name}: source=gguf needs model.gguf_package and model.gguf_file")
    if m.source == "tiny" and m.family not in ("llama", "opt"):
        raise MaseError(f"model {m.name}: tiny models exist for family llama or opt, not {m.family!r}")


def validate_eval(e: Any) -> None:
    if e.dataset not in DATASETS:
        raise MaseError(f"eval.dataset={e.dataset!r}: choose one of {', '.join(DATASETS)}")
    if e.window < 2:
        raise MaseError(f"eval.window={e.window}: must be at least 2 tokens")
    if not 1 <= e.stride <= e.window:
        raise MaseError(f"eval.stride={e.stride}: must be between 1 and eval.window={e.window}")
    if e.tokens < 1:
        raise MaseError(f"eval.tokens={e.tokens}: must be positive")


def validate_stages(stages: list[str]) -> None:
    from mase.pipeline import STAGES

    for s in stages:
        if s not in STAGES:
            raise MaseError(f"stages: unknown stage {s!r}; available stages in order: {', '.join(STAGES)}")
    if len(set(stages)) != len(stages):
        raise MaseError(f"stages={list(stages)}: a stage is listed twice")


def validate_hw(hw: Any, m: Any) -> None:
    t = int(hw.prompt_tokens)
    limit = m.tiny.max_positions if m.source == "tiny" else None
    if t < 1 or (limit and t > limit):
        raise MaseError(f"hw.prompt_tokens={t}: must be between 1 and the model's context"
                        f"{f' ({limit})' if limit else ''}")
    if hw.prompt is not None and not str(hw.prompt):
        raise MaseError("hw.prompt is empty: give a text, or drop it for the default sentence")


def validate_config(cfg: DictConfig) -> None:
    """All checks that need no model; raises MaseError."""
    if cfg.model is None:
        raise MaseError("no model chosen: add +model=NAME (run `mase` alone to list the models)")
    check_schema(cfg)
    validate_model(cfg.model)
    validate_quant(cfg.quant)
    validate_eval(cfg.eval)
    validate_stages(list(cfg.stages))
    if cfg.get("hw") is not None:
        validate_hw(cfg.hw, cfg.model)


def check_schema(cfg: DictConfig) -> None:
    """Re-merge onto the schema: catches keys added with `+group.key=...` that the schema lacks."""
    from .loading import one_line
    from .schema import MaseConfig

    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    try:
        OmegaConf.merge(OmegaConf.structured(MaseConfig), plain)
    except Exception as exc:
        raise MaseError(f"config error: {one_line(exc)}") from None


def to_container(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
