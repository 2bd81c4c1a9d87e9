"""report.json: the accuracy/cost summary of one run (issue 6 adds a `hardware` section)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mase.files import write_atomic

REQUIRED_KEYS = ("model", "quant", "ppl", "ppl_float", "delta_ppl_pct", "avg_weight_bits", "avg_act_bits",
                 "weight_memory_mb", "tokens")
# eval.task (mase.evaluate.task): accuracies and their standard errors in percent, deltas in points
TASK_KEYS = ("task", "task_accuracy", "task_accuracy_stderr", "task_accuracy_float", "task_accuracy_float_stderr",
             "delta_task_accuracy", "task_agreement", "task_fixed", "task_broken", "task_mcnemar_p", "task_examples",
             "task_numerics")


def build_report(model_name: str, quant_name: str, evaluation: dict[str, Any] | None, bits: dict[str, Any],
                 **extra: Any) -> dict[str, Any]:
    """`quant_name`: the label of the formats (mase.provenance.quant_label: the preset's name, with what
    the run changed in parentheses), or "float"."""
    ev = evaluation or {}
    rep: dict[str, Any] = {
        "model": model_name,
        "quant": quant_name,
        "ppl": ev.get("ppl"),
        "ppl_float": ev.get("ppl_float"),
        "delta_ppl_pct": ev.get("delta_ppl_pct"),
        "avg_weight_bits": bits.get("avg_weight_bits"),
        "avg_act_bits": bits.get("avg_act_bits"),
        "weight_memory_mb": bits.get("weight_memory_mb"),
        "tokens": ev.get("tokens"),
        "dataset": ev.get("dataset"),
        "window": ev.get("window"),
        "stride": ev.get("stride"),
        "act_bits_measured": bits.get("act_bits_measured"),
        "seconds": {k: ev[k] for k in ("seconds", "seconds_float", "seconds_task") if k in ev},
        # whose numerics `ppl` is: "hardware" (the accelerator's golden model) or "quantized" (PyTorch)
        "numerics": ev.get("numerics", "quantized"),
    }
    # clipped values (hardware), calibration text, other texts (eval.extra_datasets), the task (eval.task)
    for k in ("saturations", "calibration", "scored_tokens", "ppl_quantized", "ppl_datasets", "window_prefix",
              *TASK_KEYS):
        if k in ev:
            rep[k] = ev[k]
    rep.update(extra)
    return rep


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN/Inf
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def write_json(path: Path, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(_clean(data), indent=2) + "\n")  # a Ctrl-C never leaves half a result
    return path


def collect_reports(root: Path | str) -> list[dict[str, Any]]:
    """Every report.json under `root` (e.g. a multirun folder), in folder order."""
    return [json.loads(p.read_text()) for p in sorted(Path(root).rglob("report.json"))]
