"""From a quant config and a model to a per-layer plan: which formats each layer gets, and why.

Layers are addressed by their module names (`model.layers.3.mlp.down_proj`); `exclude` and
`overrides` keys are glob patterns on those names (fnmatch: `*` also crosses dots). A pattern that
matches no layer is an error: it is almost always a typo, or a config written for another family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from torch import nn

from mase.errors import MaseError
from mase.config.validate import check_format, validate_quant

LINEAR_FIELDS = ("weight", "act", "bias")
ATTENTION_FIELDS = ("query", "key", "scores", "value")


@dataclass(frozen=True)
class LinearSpec:
    weight: Any
    act: Any
    bias: Any
    block_size: int
    out: Any = None  # output re-quantization (calibrated fixed8 designs: the hardware's output stream)


@dataclass(frozen=True)
class AttentionSpec:
    query: Any
    key: Any
    scores: Any
    value: Any
    block_size: int
    qk_out: Any = None  # re-quantization of Q.K^T and of scores.V (calibrated fixed8 designs)
    sv_out: Any = None


# the activation sites whose fixed8 scale is frozen by calibration (mase.quantize.calibrate)
STATIC_SITES = {"linear": ("act", "out"), "attention": ("query", "key", "scores", "value", "qk_out", "sv_out")}


@dataclass
class LayerPlan:
    name: str
    kind: str  # "linear" | "attention"
    spec: LinearSpec | AttentionSpec | None  # None: kept in float
    reason: str = "default"  # default | override:<pattern>,... | excluded:<pattern> | disabled
    shape: tuple[int, ...] = field(default_factory=tuple)

    def row(self) -> dict[str, Any]:
        r: dict[str, Any] = {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                             "quantized": self.spec is not None, "source": self.reason}
        fields = LINEAR_FIELDS if self.kind == "linear" else ATTENTION_FIELDS
        for f in fields:
            r[f] = getattr(self.spec, f).name if self.spec is not None else "float"
        r["block_size"] = self.spec.block_size if self.spec is not None else None
        frozen = {f: getattr(self.spec, f).scale_exp for f in STATIC_SITES[self.kind]
                  if getattr(getattr(self.spec, f, None), "static", False)}
        if frozen:  # calibrated fixed8: the static exponents (values are codes * 2**(exp - 6))
            r["scale_exp"] = frozen
        return r


def is_attention(module: nn.Module) -> bool:
    """Attention modules that dispatch through transformers' AttentionInterface."""
    return type(module).__name__.endswith("Attention") and hasattr(module, "config") and hasattr(module, "is_causal")


def find_layers(model: nn.Module) -> tuple[list[tuple[str, nn.Linear]], list[tuple[str, nn.Module]]]:
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    attns = [(n, m) for n, m in model.named_modules() if is_attention(m)]
    return linears, attns


def _matches(pattern: str, names: list[str]) -> list[str]:
    return [n for n in names if fnmatchcase(n, pattern)]


def _example(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def plan_layers(model: nn.Module, q: Any, model_name: str = "the model") -> list[LayerPlan]:
    """The per-layer formats for `model` under quant config `q` (validated here)."""
    validate_quant(q)
    linears, attns = find_layers(model)
    lin_names, att_names = [n for n, _ in linears], [n for n, _ in attns]
    all_names = lin_names + att_names
    if not lin_names:
        raise MaseError(f"{model_name} has no nn.Linear layer to quantize (GPT-2 style Conv1D is not supported)")

    for pattern in q.exclude:
        if not _matches(pattern, all_names):
            raise MaseError(f"quant.exclude pattern {pattern!r} matches no layer of {model_name}; "
                            f"layer names look like {_example(all_names)}")
    for pattern, ov in q.overrides.items():
        hit_lin, hit_att = _matches(pattern, lin_names), _matches(pattern, att_names)
        if not hit_lin and not hit_att:
            raise MaseError(f"quant.overrides pattern {pattern!r} matches no layer of {model_name}; "
                            f"layer names look like {_example(all_names)}")
        if not hit_att and any(ov[f] is not None for f in ATTENTION_FIELDS):
            raise MaseError(f"quant.overrides[{pattern!r}] sets attention fields ({', '.join(ATTENTION_FIELDS)}) "
                            f"but matches only linear layers; use weight/act/bias")
        if not hit_lin and any(ov[f] is not None for f in LINEAR_FIELDS):
            raise MaseError(f"quant.overrides[{pattern!r}] sets weight/act/bias but matches only attention "
                            f"modules; use {', '.join(ATTENTION_FIELDS)}")
    if q.attention.enabled and not attns:
        raise MaseError(f"no attention module of {model_name} dispatches through transformers' attention "
                        f"interface, so its matmuls cannot be quantized; set quant.attention.enabled=false")

    plans: list[LayerPlan] = []
    for name, mod in linears:
        plans.append(_plan_one(name, "linear", q, tuple(mod.weight.shape)))
    for name, mod in attns:
        shape = (getattr(mod, "head_dim", 0),)
        plans.append(_plan_one(name, "attention", q, shape))
    return plans


def _plan_one(name: str, kind: str, q: Any, shape: tuple[int, ...]) -> LayerPlan:
    for pattern in q.exclude:
        if fnmatchcase(name, pattern):
            return LayerPlan(name, kind, None, f"excluded:{pattern}", shape)
    if kind == "attention" and not q.attention.enabled:
        return LayerPlan(name, kind, None, "disabled", shape)
    if kind == "linear":
        names = {f: q.default[f] for f in LINEAR_FIELDS}
    else:
        names = {f: q.attention[f] if q.attention[f] is not None else q.default.act for f in ATTENTION_FIELDS}
    block, hits = q.block_size, []
    for pattern, ov in q.overrides.items():  # in file order: later patterns win
        if fnmatchcase(name, pattern):
            hits.append(pattern)
            for f in names:
                if ov[f] is not None:
                    names[f] = ov[f]
            if ov.block_size is not None:
                block = ov.block_size
    fmts = {f: check_format(n, f"layer {name}.{f}", block) for f, n in names.items()}
    spec = LinearSpec(**fmts, block_size=block) if kind == "linear" else AttentionSpec(**fmts, block_size=block)
    return LayerPlan(name, kind, spec, "override:" + ",".join(hits) if hits else "default", shape)
