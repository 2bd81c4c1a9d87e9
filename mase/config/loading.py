"""Composing configs outside the Hydra app (Python API, tests, CLI pre-validation)."""

from __future__ import annotations

import os
import re
from importlib import resources
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf

from mase.errors import MaseError
from .schema import register_configs

CONFIG_MODULE = "mase.conf"
CONFIG_NAME = "config"
_DETAIL = re.compile(r"^\s*(full_key|object_type|reference_type|value|\^|Set the environment variable)")


def available(group: str) -> list[str]:
    """Names of the yaml configs shipped in conf/<group>/."""
    root = resources.files(CONFIG_MODULE) / group
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def _listed_options(raw: str, group: str) -> list[str]:
    """The options Hydra lists in its 'Could not find' message: its real search path, so a user's
    --config-dir / hydra.searchpath configs are included (schema entries left out)."""
    m = re.search(rf"Available options in '{re.escape(group)}':\n((?:\t.*\n?)*)", raw)
    names = [n.strip() for n in m[1].splitlines()] if m else []
    return [n for n in names if n and not n.endswith("_schema")]


def one_line(exc: BaseException) -> str:
    """A Hydra/OmegaConf exception chain squeezed into one readable line."""
    parts: list[str] = []
    raw = "\n".join(str(e) for e in _chain(exc))
    for e in _chain(exc):
        for line in str(e).splitlines():
            line = line.strip()
            if line.startswith("Config search path"):
                break
            if line and not _DETAIL.match(line) and not _NOISE.search(line) and line not in parts:
                parts.append(line)
    text = " ".join(parts) or type(exc).__name__
    if m := re.search(r"Could not find '([\w-]+)/([^']+)'", text):
        group, name = m[1], m[2]
        options = _listed_options(raw, group) or (available(group) if group in ("model", "quant", "target", "eval", "search")
                                                  else [])
        return f"unknown {group} config {name!r}: choose one of {', '.join(options)}"
    if m := re.search(r"Could not override '([^']+)'.*Key '([^']+)' is not in struct", text):
        hint = re.search(r"To append to your config use (\S+)", raw)
        return f"{m[1]} has no entry {m[2]!r}" + (f": add it with a leading +, e.g. {hint[1]}" if hint else "")
    if m := re.search(r"Error merging override \+?(hw\.overrides\.\S+).*is not a subclass of HwOverride", text):
        return (f"{m[1]}: give a whole entry of hw.overrides, e.g. "
                "'+hw.overrides={\"*.q_proj\":{in_par:4,fifo_depth:16}}'")
    if m := re.search(r"Could not override '([^']+)'.*Key '([^']+)' not in '(\w+)'", text):
        return f"unknown key {m[1]!r}{_valid_keys(m[3])}; check its spelling"
    if m := re.search(r"Key '([^']+)' not in '(\w+)'", text):
        where = re.search(r"full_key: (\S+)", str(exc))
        return f"unknown key {where[1] if where else m[1]!r}{_valid_keys(m[2])}; check its spelling"
    if m := re.search(r"Error merging override (\S+)", text):
        rest = text[m.end():].strip(" ;.")
        return f"bad value in {m[1]}: {rest}"
    return text


_NOISE = re.compile(r"\$VALUE|invalid literal|To append to your config|Available options in|^[\w.-]+$")


def _valid_keys(cls_name: str) -> str:
    from . import schema

    cls = getattr(schema, cls_name, None)
    return f" (valid keys of {cls_name}: {', '.join(cls.__dataclass_fields__)})" if cls else ""


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def with_search_path(overrides: Sequence[str], config_dir: str | None = None) -> list[str]:
    """`overrides` with `--config-dir DIR` folded into hydra.searchpath, where Hydra's own command line
    puts it (after the shipped configs, before the hydra.searchpath entries); a file:// entry that is
    not a folder is refused (Hydra only warns, then reports the user's configs as unknown)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out, entries, at = list(overrides), [], None
    if config_dir is None and not any("hydra.searchpath" in o for o in out):
        return out
    try:
        parsed = OverridesParser.create().parse_overrides(out)
    except Exception as exc:
        raise MaseError(f"bad override: {one_line(exc)}") from None
    for i, o in enumerate(parsed):
        if o.get_key_element() == "hydra.searchpath" and not o.is_sweep_override():
            value = o.value()
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MaseError(f"hydra.searchpath={o.get_value_string()}: give a list, e.g. "
                                "hydra.searchpath=[file:///path/to/configs]")
            entries, at = list(value), i
    if config_dir is not None:
        entries.insert(0, f"file://{os.path.abspath(config_dir)}")
        if not os.path.isdir(config_dir):
            raise MaseError(f"--config-dir {config_dir}: no such folder")
    for e in entries:
        if e.startswith("file://") and not os.path.isdir(e[len("file://"):]):
            raise MaseError(f"hydra.searchpath entry {e}: no such folder")
    if config_dir is not None:
        text = "hydra.searchpath=[" + ",".join(map(_quoted, entries)) + "]"
        out = out[:at] + [text] + out[at + 1:] if at is not None else out + [text]
    return out


def compose(overrides: Sequence[str] = (), *, return_hydra_config: bool = False,
            config_dir: str | None = None) -> DictConfig:
    """The config the `mase` CLI would see for these overrides (and `--config-dir`, whose configs are
    found as Hydra finds them); errors become one-line MaseErrors."""
    from hydra import compose as hydra_compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    overrides = with_search_path(overrides, config_dir)
    gh = GlobalHydra.instance()
    was_initialized = gh.is_initialized()
    try:
        if not was_initialized:
            initialize_config_module(CONFIG_MODULE, version_base="1.3")
        return hydra_compose(CONFIG_NAME, overrides=list(overrides), return_hydra_config=return_hydra_config)
    except MaseError:
        raise
    except Exception as exc:  # Hydra and OmegaConf raise many types; all are config mistakes here
        raise MaseError(f"config error: {one_line(exc)}") from None
    finally:
        if not was_initialized:
            gh.clear()


def load_group(group: str, name: str, **overrides: Any) -> DictConfig:
    """One typed config of a group, e.g. load_group("quant", "mxint4", block_size=16).

    Overrides are merged onto the typed node (nested dicts allowed), so types are still checked.
    """
    if name not in available(group):
        raise MaseError(f"no config {group}/{name}: choose one of {', '.join(available(group))}")
    node = compose([f"+{group}={name}" if group == "model" else f"{group}={name}"])[group]
    if not overrides:
        return node
    for key in ("overrides", "nonlinear"):  # free-keyed dicts of the schema accept new keys
        if key in node and OmegaConf.is_dict(node[key]):
            OmegaConf.set_struct(node[key], False)
    try:
        return OmegaConf.merge(node, overrides)
    except Exception as exc:
        raise MaseError(f"config error in {group}/{name} overrides: {one_line(exc)}") from None
