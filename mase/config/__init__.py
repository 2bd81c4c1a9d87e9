"""Structured configs (Hydra ConfigStore schemas), their validation, and config loading helpers."""

from mase.errors import MaseError
from .schema import (
    AttentionFormats, EvalConfig, LayerOverride, LinearFormats, MaseConfig, ModelConfig, NONLINEAR_OPS,
    OutputConfig, QuantConfig, Resources, TargetConfig, TinyArch, register_configs,
)
from .loading import available, compose, load_group

__all__ = [
    "AttentionFormats", "EvalConfig", "LayerOverride", "LinearFormats", "MaseConfig", "MaseError",
    "ModelConfig", "NONLINEAR_OPS", "OutputConfig", "QuantConfig", "Resources", "TargetConfig", "TinyArch",
    "available", "compose", "load_group", "register_configs",
]
