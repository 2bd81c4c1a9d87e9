"""What a result file was computed from, and the check that it still matches the config.

Every result file a stage writes (layers.json, eval.json, report.json, hw/*.json, hw/manifest.json)
carries a `provenance` record: the stage, one hash over the config sections that determine the
result, and per section a hash and a readable summary. A stage that reads a result from the run
folder instead of computing it (a resume) compares that record with the one the current config
would give, and refuses a result of another config with one line naming the stage to add
(`check`, used by mase.pipeline.RunContext.result and the hardware stages' manifest reader):

    mase: error: hw/sim.json in X was computed for another config (quant mxint4, now mxint8): add sim
    to stages or use a new run folder

A run whose formats differ from its preset is labelled by them (`quant_label`): `mxint4(w:mxint5)`.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from itertools import product
from typing import Any, Iterable

from omegaconf import OmegaConf

from mase.errors import MaseError

# hw knobs of the tools that run on the emitted library, not of the library itself
SIM_KEYS, SYNTH_KEYS, PNR_KEYS = ("sim_seed", "sim_stall", "sim_bp"), ("synth_scope",), ("pnr_scope",)
# the hw knobs of the hardware numerics (eval.numerics=hardware): the one mase.compiler.graph reads, and
# hw.attention (block or causal numerics of the prefill design, mase.evaluate.hardware)
NUMERICS_KEYS = ("linear_out", "attention")
# eval fields that pick the calibration text (the tokens after the scored ones, mase.quantize.calibrate)
CALIBRATION_KEYS = ("dataset", "tokens", "window")
_ACCURACY = ("model", "quant", "eval", "seed")
_HARDWARE = ("model", "quant", "calibration", "hw", "target", "seed")
# stage -> the config sections its result depends on (evaluate and report add hw when scored with the
# hardware numerics); a stage registered elsewhere depends on everything
SECTIONS: dict[str, tuple[str, ...]] = {
    "quantize": ("model", "quant", "calibration", "seed"),
    "evaluate": _ACCURACY, "report": _ACCURACY + ("target",),  # report.json names the target
    "emit": _HARDWARE, "lint": _HARDWARE,
    "sim": _HARDWARE + ("sim",), "synth": _HARDWARE + ("synth",), "pnr": _HARDWARE + ("synth", "pnr"),
    "hw_report": _HARDWARE + ("sim", "synth", "pnr"), "generate": _HARDWARE + ("sim",),
}
_ALL = ("model", "quant", "calibration", "eval", "hw", "target", "seed", "sim", "synth", "pnr")
# state of the run a result depends on besides the config: whether the model was quantized (a run
# without the quantize stage evaluates the float model; emit without it uses uncalibrated formats)
# and which numerics scored it (eval.numerics=auto resolves from the stages)
STATES = {"quantized": (True, False), "numerics": ("quantized", "hardware", "decode")}


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _get(cfg: Any, key: str) -> Any:
    return cfg.get(key, None) if hasattr(cfg, "get") else None


# ---------------------------------------------------------------------------------------------- labels
def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):  # an empty dict (no overrides) has no leaves
        return {k: v for key, sub in d.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix[:-1]: d}


# quant settings that change no format (the kernel, how much text calibrates): in the provenance, not the label
NOT_FORMATS = ("name", "mode", "calibration_tokens")
_SHORT = {"weight": "w", "act": "a", "bias": "b", "query": "q", "key": "k", "scores": "s", "value": "v",
          "block_size": "block"}


def _short(key: str) -> str:
    """default.weight -> w, nonlinear.softmax -> softmax, overrides.<pattern>.act -> <pattern>.a"""
    for prefix in ("default.", "attention.", "nonlinear.", "overrides."):
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    head, _, last = key.rpartition(".")
    return f"{head}.{_SHORT.get(last, last)}" if head else _SHORT.get(last, last)


@lru_cache(maxsize=None)
def _preset(name: str) -> str | None:
    from mase.config import available, load_group

    if name not in available("quant"):
        return None
    return json.dumps(_plain(load_group("quant", name)), sort_keys=True, default=str)


def quant_changes(quant_cfg: Any) -> list[str] | None:
    """`key:value` for every format setting that differs from the preset of the same name; None when the
    name is no preset (a config of its own)."""
    q = _plain(quant_cfg)
    preset = _preset(str(q.get("name")))
    if preset is None:
        return None
    old, new = _flat(json.loads(preset)), _flat(q)
    out = []
    for k in list(new) + [k for k in old if k not in new]:  # schema order: w, a, b, ...
        if k in NOT_FORMATS or old.get(k) == new.get(k):
            continue
        v = new.get(k, "-")
        v = "[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else ("-" if v is None else v)
        out.append(f"{_short(k)}:{v}")
    return out


def quant_label(quant_cfg: Any, width: int = 60) -> str:
    """The preset's name, with what the run changed in parentheses: `mxint4(w:mxint5,a:mxint8)` (never
    the bare preset name for formats that are not the preset's)."""
    if isinstance(quant_cfg, str):  # a preset by name
        return quant_cfg
    name = str(_plain(quant_cfg).get("name"))
    changes = quant_changes(quant_cfg)
    if not changes:
        return name
    text, shown = "", 0
    for c in changes:
        if text and len(text) + len(c) > width:
            break
        text, shown = f"{text},{c}" if text else c, shown + 1
    more = len(changes) - shown
    return f"{name}({text}{f',+{more} more' if more else ''})"


# ---------------------------------------------------------------------------------------------- records
def _section(cfg: Any, name: str, quantized: bool, numerics: str, stage: str) -> tuple[Any, str]:
    """(value hashed, readable summary) of one config section."""
    hw = _plain(_get(cfg, "hw")) or {}
    ev = _plain(_get(cfg, "eval")) or {}
    if name == "model":
        m = _plain(cfg.model)
        return m, str(m.get("name"))
    if name == "quant":
        if not quantized and stage in ("evaluate", "report"):  # no quantize stage: the float model
            return None, "float"
        q = {k: v for k, v in _plain(cfg.quant).items() if k != "name"}
        return q, quant_label(cfg.quant)
    if name == "calibration":
        if not quantized:
            return None, "none"
        c = {k: ev.get(k) for k in CALIBRATION_KEYS} | {"calibration_tokens": _plain(cfg.quant).get("calibration_tokens")}
        return c, f"{c['dataset']} after {c['tokens']} tokens"
    if name == "eval":
        e = {k: v for k, v in ev.items() if k != "name"} | {"numerics": numerics}
        return e, f"{ev.get('name')} ({ev.get('tokens')} tokens, {numerics} numerics)"
    if name == "hw" and stage in ("evaluate", "report"):  # the hardware numerics: the captured graph's formats
        lib = {k: hw.get(k) for k in NUMERICS_KEYS}
        return lib, _hw_summary(lib)
    if name == "hw":
        lib = {k: v for k, v in hw.items() if k not in SIM_KEYS + SYNTH_KEYS + PNR_KEYS}
        return lib, _hw_summary(lib)
    if name in ("sim", "synth", "pnr"):
        keys = {"sim": SIM_KEYS, "synth": SYNTH_KEYS, "pnr": PNR_KEYS}[name]
        v = {k: hw.get(k) for k in keys}
        return v, ",".join(f"{k}={x}" for k, x in v.items())
    if name == "target":
        t = {k: v for k, v in _plain(cfg.target).items() if k not in ("stages", "notes")}
        return t, str(t.get("name"))
    if name == "seed":
        return _get(cfg, "seed"), str(_get(cfg, "seed"))
    raise ValueError(name)


def _hw_summary(lib: dict[str, Any]) -> str:
    """The hw settings that differ from the defaults (`prompt_tokens=16`), else `defaults`."""
    from mase.config.schema import HwConfig

    base = _plain(OmegaConf.structured(HwConfig))
    diff = [f"{k}={v}" for k, v in lib.items() if v != base.get(k)]
    return ",".join(diff) or "defaults"


def record(cfg: Any, stage: str, quantized: bool = True, numerics: str = "quantized") -> dict[str, Any]:
    """The provenance of `stage`'s result computed now from `cfg` (deterministic: no time, no paths)."""
    names = list(SECTIONS.get(stage, _ALL))
    if stage in ("evaluate", "report") and numerics in ("hardware", "decode"):  # the golden model of the design
        names.append("hw")
    sections, summary = {}, {}
    for n in names:
        value, summary[n] = _section(cfg, n, quantized, numerics, stage)
        sections[n] = _hash(value)
    state = {"quantized": quantized, **({"numerics": numerics} if stage in ("evaluate", "report") else {})}
    return {"stage": stage, "hash": _hash(sections), "sections": sections, "summary": summary, "state": state}


def stamp(data: dict[str, Any], cfg: Any, stage: str, **state: Any) -> dict[str, Any]:
    """`data` with its provenance (in place, so the in-memory result is the file's content)."""
    data["provenance"] = record(cfg, stage, **state)
    return data


def matches(data: Any, cfg: Any, stage: str, **state: Any) -> bool:
    return stale(data, cfg, stage, **state) is None


def stale(data: Any, cfg: Any, stage: str, **state: Any) -> str | None:
    """None when `data` (a result file's content) was computed from `cfg`; else why not, as the end of
    a sentence: "was computed for another config (quant mxint4, now mxint8)"."""
    return _mismatch(data, cfg, stage, state)


def _mismatch(data: Any, cfg: Any, stage: str, state: dict[str, Any]) -> str | None:
    """None when `data` was computed from `cfg` under some allowed state; else what differs."""
    rec = data.get("provenance") if isinstance(data, dict) else None
    if not isinstance(rec, dict) or "hash" not in rec:
        return "records no config (written by an older mase, or by hand)"
    # states the caller does not pin are whatever the file was computed under
    free = [k for k in STATES if k not in state]
    best = None
    for values in product(*(STATES[k] for k in free)):
        now = record(cfg, stage, **state, **dict(zip(free, values)))
        if now["hash"] == rec["hash"]:
            return None
        differ = [k for k in set(now["sections"]) | set(rec.get("sections", {}))
                  if now["sections"].get(k) != rec.get("sections", {}).get(k)]
        if best is None or len(differ) < len(best[1]):
            best = (now, differ)
    now, differ = best
    old_sum, new_sum = rec.get("summary", {}), now["summary"]
    order = {k: i for i, k in enumerate(_ALL)}
    parts = [f"{k} {old_sum.get(k, '-')}, now {new_sum.get(k, '-')}" if old_sum.get(k) != new_sum.get(k)
             else f"{k} settings differ" for k in sorted(differ, key=lambda k: order.get(k, len(order)))]
    return "was computed for another config (" + "; ".join(parts) + ")"


def refusal(problems: list[tuple[str, str, list[str]]], where: Any) -> MaseError:
    """One line for every (file, why, stages to add) found stale in run folder `where`."""
    files = ", ".join(f for f, _, _ in problems)
    whys = list(dict.fromkeys(w for _, w, _ in problems))
    add = ",".join(dict.fromkeys(a for _, _, adds in problems for a in adds))
    why = whys[0] if len(whys) == 1 else "; ".join(f"{f} {w}" for f, w, _ in problems)
    if len(whys) == 1 and len(problems) > 1:
        why = why.replace("was computed", "were computed").replace("records no", "record no")
    head = f"{files} in {where} {why}" if len(whys) == 1 else f"in {where}: {why}"
    return MaseError(f"{head}: add {add} to stages or use a new run folder")


def check(data: Any, cfg: Any, stage: str, file: str, where: Any, add: Iterable[str] | None = None,
          **state: Any) -> None:
    """Refuse `data` (the content of `file` in run folder `where`) unless computed from `cfg`."""
    why = _mismatch(data, cfg, stage, state)
    if why is not None:
        raise refusal([(file, why, list(add or [stage]))], where)
