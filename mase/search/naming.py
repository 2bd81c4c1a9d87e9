"""Folder names of search trials: the swept choices, the way Hydra's override_dirname spells them.

    3_q_proj=i4b32,k_proj=f6b16,...     (mxint4 in blocks of 32, mxfp6 in blocks of 16)

A name longer than MAX_NAME characters keeps its start and ends in a hash of the whole, so it stays
unique and fits a file system's 255-byte limit. Kept free of torch and the model: the resolver runs
in every job (and every launcher worker) before the job starts.
"""

from __future__ import annotations

import hashlib

PICK = "search.pick."
MAX_NAME = 120


def short_choice(choice: str) -> str:
    """mxint4_b32 -> i4b32, mxfp6_b16 -> f6b16 (any other name is kept, without the underscore)."""
    fmt, _, block = choice.rpartition("_b")
    for long, short in (("mxint", "i"), ("mxfp", "f")):
        if fmt.startswith(long) and fmt[len(long):].isdigit():
            fmt = short + fmt[len(long):]
    return f"{fmt}b{block}" if fmt else choice


def name_of(picks: dict[str, str]) -> str:
    text = ",".join(f"{slot}={short_choice(c)}" for slot, c in picks.items())
    if len(text) <= MAX_NAME:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return text[:MAX_NAME - 11].rstrip(",=") + "~" + digest


def picks_from_overrides(overrides: list[str]) -> dict[str, str]:
    out = {}
    for o in overrides:
        key, eq, value = o.lstrip("+").partition("=")
        if eq and key.startswith(PICK):
            out[key[len(PICK):]] = value
    return out


def trial_name() -> str:
    """The current job's folder name (hydra.sweep.subdir of conf/search/*.yaml): its search choices,
    else model_quant_target as mase's default sweep folders."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    picks = picks_from_overrides(list(hc.overrides.task))
    if picks:
        return name_of(picks)
    ch = hc.runtime.choices
    return f"{ch.get('model')}_{ch.get('quant')}_{ch.get('target')}"
