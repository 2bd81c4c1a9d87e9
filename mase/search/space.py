"""The search space: slots (groups of linear layers sharing one weight format) and their choices.

A choice is an element format and a block size, spelled `mxint4_b32`. The granularity decides the slots:
- `layer`: every quantized linear layer (`l3_q_proj`);
- `type`: every layer type (`q_proj`: that projection in all decoder layers);
- `type_group`: a layer type in one of `search.groups` contiguous groups of decoder layers (`g1_q_proj`).
Picks (slot -> choice) become `quant.overrides` entries (weight format and block size); activations
keep the preset's format (at the slot's block size). The average weight bits of picks (scale overhead
included, as report.json's avg_weight_bits) are computed from the layer shapes alone, so a trial over
budget is refused before any model work. The space of a model is saved once per sweep
(<sweep dir>/search/space.json) and read back by every trial, whichever process runs it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mase.errors import MaseError
from mase.config.validate import SEARCH_GRANULARITIES as GRANULARITIES  # noqa: F401

SPACE_FILE = "search/space.json"
_LAYER_INDEX = re.compile(r"\.(\d+)\.")


@dataclass
class Slot:
    name: str
    kind: str  # the layer type (last part of the module name)
    layers: list[str]
    numel: int  # weights in the slot's layers


@dataclass
class Space:
    model: str
    granularity: str
    groups: int
    slots: dict[str, Slot]
    choices: list[str]  # every choice of the config (a slot may keep fewer after pruning)
    whole_types: dict[str, int]  # layer type -> number of layers (a slot holding all of them is a glob)

    @property
    def numel(self) -> int:
        return sum(s.numel for s in self.slots.values())

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "granularity": self.granularity, "groups": self.groups,
                "choices": self.choices, "whole_types": self.whole_types,
                "slots": {k: asdict(s) for k, s in self.slots.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Space":
        return cls(d["model"], d["granularity"], d["groups"], {k: Slot(**s) for k, s in d["slots"].items()},
                   list(d["choices"]), dict(d["whole_types"]))


def choice_name(fmt: str, block: int) -> str:
    return f"{fmt}_b{block}"


def parse_choice(choice: str) -> tuple[str, int]:
    fmt, sep, block = str(choice).rpartition("_b")
    if not sep or not block.isdigit():
        raise MaseError(f"search choice {choice!r}: spell it FORMAT_bBLOCK, e.g. mxint4_b32")
    return fmt, int(block)


@lru_cache(maxsize=None)
def _bits(choice: str) -> float:
    from mase.config.validate import check_format

    fmt, block = parse_choice(choice)
    return check_format(fmt, f"search choice {choice}", block).bits_per_element


def choice_bits(choice: str) -> float:
    return _bits(str(choice))


def all_choices(search: Any) -> list[str]:
    return [choice_name(f, int(b)) for f in search.formats for b in search.block_sizes]


def build_space(model: Any, quant: Any, search: Any, model_name: str) -> Space:
    """Slots of `model`'s quantized linear layers under the base quant config, at search.granularity."""
    from mase.quantize.plan import find_layers, plan_layers

    plans = [p for p in plan_layers(model, quant, model_name) if p.kind == "linear" and p.spec is not None]
    shapes = {n: m.weight.numel() for n, m in find_layers(model)[0]}
    indices = sorted({int(m[1]) for p in plans if (m := _LAYER_INDEX.search(p.name))})
    n_layers, groups = len(indices), int(search.groups)
    if search.granularity == "type_group" and groups > max(1, n_layers):
        raise MaseError(f"search.groups={groups}: {model_name} has {n_layers} decoder layers; choose at most {n_layers}")
    slots: dict[str, Slot] = {}
    kinds: dict[str, int] = {}
    for p in plans:
        kind = p.name.rsplit(".", 1)[-1]
        kinds[kind] = kinds.get(kind, 0) + 1
        m = _LAYER_INDEX.search(p.name)
        idx = indices.index(int(m[1])) if m else None
        if search.granularity == "layer":
            name = f"l{m[1]}_{kind}" if m else p.name.replace(".", "_")
        elif search.granularity == "type_group" and idx is not None:
            name = f"g{idx * groups // n_layers}_{kind}"
        else:
            name = kind
        s = slots.setdefault(name, Slot(name, kind, [], 0))
        s.layers.append(p.name)
        s.numel += shapes[p.name]
    return Space(model_name, str(search.granularity), groups, slots, all_choices(search), kinds)


def overrides(space: Space, picks: dict[str, str]) -> dict[str, dict[str, Any]]:
    """quant.overrides entries for picks: a glob for a slot holding every layer of its type, else the
    layers' names."""
    out: dict[str, dict[str, Any]] = {}
    for slot_name, choice in picks.items():
        slot = space.slots[slot_name]
        fmt, block = parse_choice(choice)
        entry = {"weight": fmt, "block_size": block}
        whole = len(slot.layers) == space.whole_types.get(slot.kind)
        for pattern in ([f"*.{slot.kind}"] if whole else slot.layers):
            out[pattern] = entry
    return out


def avg_weight_bits(space: Space, picks: dict[str, str], default: str) -> float:
    """Average bits per weight (scale overhead included) of picks; slots not picked keep `default`."""
    total = sum(s.numel * choice_bits(picks.get(n, default)) for n, s in space.slots.items())
    return total / space.numel


def check_picks(space: Space, picks: dict[str, str]) -> None:
    unknown = [k for k in picks if k not in space.slots]
    if unknown:
        raise MaseError(f"search.pick.{unknown[0]}: no such slot at granularity {space.granularity}; "
                        f"slots: {', '.join(space.slots)}")
    for k, c in picks.items():
        choice_bits(c)  # a malformed choice or unknown format is one line


def save(space: Space, sweep_dir: Path) -> None:
    from mase.files import write_atomic

    path = Path(sweep_dir) / SPACE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(space.to_json(), indent=1))


def load(sweep_dir: Path | None) -> Space | None:
    path = Path(sweep_dir) / SPACE_FILE if sweep_dir else None
    return Space.from_json(json.loads(path.read_text())) if path and path.is_file() else None


def space_for(cfg: Any, sweep_dir: Path | None = None, model: Any = None) -> Space:
    """The sweep's saved space when it matches cfg.search, else built from the model (loaded if not given)."""
    found = load(sweep_dir)
    s = cfg.search
    if found and found.model == cfg.model.name and found.granularity == s.granularity and found.groups == int(s.groups):
        return found
    if model is None:
        model = _skeleton(cfg)
    space = build_space(model, cfg.quant, s, cfg.model.name)
    if sweep_dir is not None:
        save(space, sweep_dir)
    return space


def _skeleton(cfg: Any) -> Any:
    """The float model, for its layer names and shapes."""
    from mase.models import load_model

    return load_model(cfg.model)[0]
