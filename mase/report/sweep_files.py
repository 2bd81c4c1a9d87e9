"""The files of a sweep for spreadsheets and papers: sweep.csv (one line per run) and sweep.png /
sweep.svg (accuracy against average weight bits, energy per token and LUTs, one point per run; the
fixed8 baseline marked, the float model as a dashed line). Written with sweep.json after every
multirun (mase.report.sweep.summarize) and again by `python -m mase.report <sweep>`.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from mase.files import write_atomic

CSV_FILE, PLOT_STEM = "sweep.csv", "sweep"
RESOURCES = ("LUT", "FF", "DSP", "BRAM", "URAM")
# (row key, axis label): the x axes of the panels, each drawn when some run has the value
AXES = (("avg_weight_bits", "average weight bits"), ("energy_per_token_uj", "energy per token (uJ)"),
        ("LUT", "LUTs"))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """The scalar columns of a sweep row, resources as their own columns."""
    out = {k: v for k, v in row.items() if v is None or isinstance(v, (str, int, float, bool))}
    for k in RESOURCES:
        out[k] = (row.get("resources") or {}).get(k)
    return out


def csv_text(rows: list[dict[str, Any]]) -> str:
    flat = [_flat(r) for r in rows]
    cols = list(dict.fromkeys(k for r in flat for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(flat)
    return buf.getvalue()


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _metric(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """The accuracy plotted: task accuracy when every run has one, else perplexity."""
    if rows and all(_num(r.get("task_accuracy")) for r in rows):
        return "task_accuracy", "task accuracy (%)"
    return "ppl", "perplexity (lower is better)"


def plot(rows: list[dict[str, Any]], stem: Path) -> list[Path]:
    """Draw the panels that have data into stem.png and stem.svg; [] when no run has an accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, label = _metric(rows)
    flat = [_flat(r) for r in rows]
    panels = [(x, xl) for x, xl in AXES if any(_num(r.get(x)) and _num(r.get(key)) for r in flat)]
    if not panels:
        return []
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, (x, xl) in zip(axes[0], panels):
        for r in flat:
            if not (_num(r.get(x)) and _num(r.get(key))):
                continue
            base = r.get("quant") == "fixed8"
            ax.scatter(r[x], r[key], marker="s" if base else "o", s=60 if base else 36,
                       color="tab:red" if base else "tab:blue", zorder=3)
            ax.annotate(str(r.get("quant")), (r[x], r[key]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        floats = [r.get(f"{key}_float") for r in flat if _num(r.get(f"{key}_float"))]
        if floats:
            ax.axhline(floats[0], color="gray", linestyle="--", linewidth=1, label="float")
            ax.legend(loc="best", fontsize=8)
        ax.set_xlabel(xl)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle("sweep: one point per run (square: fixed8 baseline)", fontsize=10)
    fig.tight_layout()
    out = []
    for ext in ("png", "svg"):
        path = stem.with_suffix(f".{ext}")
        buf = io.BytesIO()
        # SVG without its creation date and with fixed ids, so that the same sweep draws the same file
        with plt.rc_context({"svg.hashsalt": "mase"}):
            fig.savefig(buf, format=ext, dpi=110, metadata={"Date": None} if ext == "svg" else None)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")  # whole or absent, as write_atomic
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
        out.append(path)
    plt.close(fig)
    return out


def write_files(rows: list[dict[str, Any]], root: Path) -> list[Path]:
    """sweep.csv and the plots under `root`; the paths written."""
    path = Path(root) / CSV_FILE
    write_atomic(path, csv_text(rows))
    return [path, *plot(rows, Path(root) / PLOT_STEM)]
