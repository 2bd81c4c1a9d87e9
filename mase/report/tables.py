"""Terminal tables (rich) and their plain-text twins for the log."""

from __future__ import annotations

import re
from typing import Any, Iterable

from rich.console import Console
from rich.markup import escape  # labels such as mxint4(exclude:[lm_head]) are text, not markup
from rich.table import Table

LINEAR_COLS = ("weight", "act", "bias")
ATTN_COLS = ("query", "key", "scores", "value")


def make_console() -> Console:
    """A console that keeps tables readable when stdout is a file or pipe (rich defaults to 80): wide
    enough for every column of the hardware and sweep tables."""
    c = Console()
    return c if c.is_terminal else Console(width=240)


def _ranges(nums: list[int]) -> str:
    nums = sorted(set(nums))
    out, start = [], nums[0]
    for a, b in zip(nums, nums[1:] + [None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ",".join(out)


def condense(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge rows that differ only in their layer index: model.layers.[0-29].mlp.up_proj."""
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        m = re.search(r"\.(\d+)\.", r["name"])
        key_name, idx = (r["name"][: m.start()] + ".{}." + r["name"][m.end():], int(m[1])) if m else (r["name"], None)
        fmts = tuple(r.get(c) for c in LINEAR_COLS + ATTN_COLS) + (r["kind"], r["block_size"], r["source"])
        g = groups.setdefault((key_name, fmts), {**r, "_idx": []})
        if idx is not None:
            g["_idx"].append(idx)
    out = []
    for (key_name, _), g in groups.items():
        g = dict(g)
        idx = g.pop("_idx")
        g["name"] = key_name.format(f"[{_ranges(idx)}]") if idx else key_name
        g["count"] = max(1, len(idx))
        out.append(g)
    return out


def _fmt_cols(r: dict[str, Any]) -> str:
    cols = LINEAR_COLS if r["kind"] == "linear" else ATTN_COLS
    return "  ".join(f"{c}={r.get(c)}" for c in cols)


def layer_table(rows: list[dict[str, Any]], title: str = "formats applied") -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("layer", "n", "kind", "formats", "k", "source"):
        t.add_column(col, justify="right" if col in ("n", "k") else "left")
    for r in condense(rows):
        t.add_row(r["name"], str(r["count"]), r["kind"], _fmt_cols(r), str(r["block_size"] or "-"), r["source"])
    return t


def layer_table_text(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'layer':60s} {'kind':9s} {'k':>3s}  formats"]
    for r in rows:
        lines.append(f"{r['name']:60s} {r['kind']:9s} {str(r['block_size'] or '-'):>3s}  {_fmt_cols(r)}  ({r['source']})")
    return "\n".join(lines)


def _num(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def report_table(reports: list[dict[str, Any]], title: str = "accuracy") -> Table:
    t = Table(title=title, title_justify="left")
    cols = ("model", "quant", "numerics", "ppl", "ppl quantized", "ppl_float", "delta %", "w bits", "a bits",
            "weights MB", "tokens", "dataset")
    task = any(r.get("task_accuracy") is not None for r in reports)  # eval.task: accuracy columns
    others = sorted({d for r in reports for d in (r.get("ppl_datasets") or {}) if d != r.get("dataset")})
    cols += tuple(f"ppl {d}" for d in others) + (("task", "acc %", "acc float %") if task else ())
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "quant", "numerics", "dataset", "task") else "right")
    for r in reports:
        per = r.get("ppl_datasets") or {}
        task_cells = (str(r.get("task") or "-"), _acc(r.get("task_accuracy"), r.get("task_accuracy_stderr")),
                      _acc(r.get("task_accuracy_float"), r.get("task_accuracy_float_stderr"))) if task else ()
        t.add_row(r["model"], escape(str(r["quant"])), str(r.get("numerics") or "quantized"), _num(r.get("ppl"), ".3f"),
                  _num(r.get("ppl_quantized"), ".3f"), _num(r.get("ppl_float"), ".3f"),
                  _num(r.get("delta_ppl_pct"), "+.2f"), _num(r.get("avg_weight_bits"), ".2f"),
                  _num(r.get("avg_act_bits"), ".2f"), _num(r.get("weight_memory_mb"), ".1f"),
                  _num(r.get("tokens"), "d"), str(r.get("dataset") or "-"),
                  *(_num((per.get(d) or {}).get("ppl"), ".3f") for d in others), *task_cells)
    return t


def _acc(v: Any, err: Any) -> str:
    return "-" if v is None else f"{v:.1f} +- {err or 0:.1f}"


def report_text(r: dict[str, Any]) -> str:
    keys = ("model", "quant", "numerics", "ppl", "ppl_quantized", "ppl_float", "delta_ppl_pct", "avg_weight_bits", "avg_act_bits",
            "weight_memory_mb", "tokens", "dataset") + (("task", "task_accuracy", "task_accuracy_stderr",
                                                         "task_accuracy_float") if r.get("task") else ())
    return " ".join(f"{k}={r.get(k):.4g}" if isinstance(r.get(k), float) else f"{k}={r.get(k)}" for k in keys)


def print_table(table: Table, console: Console | None = None) -> None:
    (console or make_console()).print(table)
