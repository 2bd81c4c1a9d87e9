"""The summary of a sweep: accuracy joined with the hardware figures, one row per run.

    mase -m +model=smollm2-135m quant=fixed8,mxint8,mxint4 target=u250
    python -m mase.report multirun/<date_time>      # the same tables again, from the report.json files

After a multirun (`SweepSummary`, a Hydra callback in conf/config.yaml) and from `python -m
mase.report`, every report.json under the sweep folder gives one row: perplexity and its change vs
float, then (when the run has a `hardware` section, i.e. ran hw_report) resources, decode cycles per
token, tokens/s and energy per token. Rows are compared with the fixed8 row of the same model and
target (the 8-bit fixed-point baseline): `energy_vs_fixed8` = energy / fixed8 energy (1.03 = 3% more),
`delta_ppl_vs_fixed8_pct` = (ppl - fixed8 ppl) / fixed8 ppl (negative: more accurate). Runs that measured
more texts (eval.extra_datasets) get a perplexity column per text, runs with a task (eval=polarity) the
accuracy and `delta_task_accuracy_vs_fixed8` (points; the paper's "delta accuracy"). The rows and
the table are written to `<sweep>/sweep.json`, the rows also to `sweep.csv`, and plotted in
`sweep.png` / `sweep.svg` (mase.report.sweep_files). A run is named by its formats (report.json `quant`:
`mxint4(w:mxint5)` when the command line changed the preset's settings; the preset in `quant_preset`),
so only an unchanged fixed8 run is the baseline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from .report import collect_reports, write_json

log = logging.getLogger("mase")
BASELINE_QUANT = "fixed8"
SWEEP_FILE = "sweep.json"


def _target_name(r: dict[str, Any]) -> Any:
    t = r.get("target")
    return t.get("name") if isinstance(t, dict) else t


def _ratio(v: Any, base: Any) -> float | None:
    """v / base, or None when either is missing (no such stage, or no fixed8 run)."""
    num = (int, float)
    return v / base if isinstance(v, num) and isinstance(base, num) and base else None


def sweep_rows(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per report.json: accuracy, hardware and the comparison with the fixed8 row."""
    rows = []
    for r in reports:
        hw = r.get("hardware") or {}
        tname = _target_name(r)
        row: dict[str, Any] = {
            "config": f"{r.get('model')}/{r.get('quant')}/{tname}", "model": r.get("model"),
            "quant": r.get("quant"), "quant_preset": r.get("quant_preset"), "target": tname,
            "ppl": r.get("ppl"), "ppl_float": r.get("ppl_float"), "delta_ppl_pct": r.get("delta_ppl_pct"),
            "avg_weight_bits": r.get("avg_weight_bits"), "hardware": bool(hw),
            "dataset": r.get("dataset"), "ppl_datasets": r.get("ppl_datasets"),
            "task": r.get("task"), "task_accuracy": r.get("task_accuracy"),
            "task_accuracy_stderr": r.get("task_accuracy_stderr"), "task_accuracy_float": r.get("task_accuracy_float"),
            "delta_task_accuracy": r.get("delta_task_accuracy"),
        }
        if hw:
            cyc, tok = hw.get("cycles", {}), hw.get("tokens_per_s", {})
            row.update({
                "resources": hw.get("resources"), "resources_pct": hw.get("resources_pct"),
                "resources_source": hw.get("resources_source"), "clock_mhz": hw.get("clock_mhz"),
                "prefill_cycles_per_token": cyc.get("prefill_cycles_per_token"),
                "decode_cycles_per_token": cyc.get("decode_cycles_per_token"),
                "decode_batched_cycles_per_token": cyc.get("decode_batched_cycles_per_token"),
                "decode_context": cyc.get("decode_context"),
                "tokens_per_s_decode": tok.get("decode"), "tokens_per_s_decode_batched": tok.get("decode_batched"),
                "energy_per_token_uj": (hw.get("energy") or {}).get("energy_per_token_uj"),
                "dynamic_energy_per_token_uj": (hw.get("energy") or {}).get("dynamic_uj"),
                "sim": (hw.get("sim") or {}).get("bit_exact"), "mapped_nodes": hw.get("mapped_nodes"),
            })
        rows.append(row)
    for row in rows:  # against the fixed8 run of the same model and target
        base = next((b for b in rows if b["quant"] == BASELINE_QUANT and b["model"] == row["model"]
                     and b["target"] == row["target"]), None)
        b = base or {}
        row["baseline"] = base["config"] if base else None
        row["energy_vs_fixed8"] = _ratio(row.get("energy_per_token_uj"), b.get("energy_per_token_uj"))
        row["dynamic_energy_vs_fixed8"] = _ratio(row.get("dynamic_energy_per_token_uj"), b.get("dynamic_energy_per_token_uj"))
        p, bp = row.get("ppl"), b.get("ppl")
        row["delta_ppl_vs_fixed8_pct"] = 100.0 * (p - bp) / bp if _ratio(p, bp) is not None else None
        a, ba = row.get("task_accuracy"), b.get("task_accuracy")  # the paper's "delta accuracy" (points)
        same_task = row.get("task") is not None and row.get("task") == b.get("task")
        both = isinstance(a, (int, float)) and isinstance(ba, (int, float))
        row["delta_task_accuracy_vs_fixed8"] = a - ba if same_task and both else None
    return rows


def _n(v: Any, fmt: str) -> str:
    if v is None or isinstance(v, str):
        return "-" if v is None else v
    return format(v, fmt)


def other_texts(rows: list[dict[str, Any]]) -> list[str]:
    """The texts measured besides each run's main one (eval.extra_datasets), in first-seen order."""
    names: list[str] = []
    for r in rows:
        for d in r.get("ppl_datasets") or {}:
            if d != r.get("dataset") and d not in names:
                names.append(d)
    return names


def _text_ppl(r: dict[str, Any], name: str) -> str:
    rec = (r.get("ppl_datasets") or {}).get(name) or {}
    if rec.get("ppl") is None:
        return "-"
    return f"{rec['ppl']:.3f}" + (f" ({rec['delta_ppl_pct']:+.2f}%)" if rec.get("delta_ppl_pct") is not None else "")


def sweep_table(rows: list[dict[str, Any]], title: str = "sweep: accuracy and hardware") -> Table:
    t = Table(title=title, title_justify="left")
    texts = other_texts(rows)  # optional columns: only when a run measured them
    task = any(r.get("task_accuracy") is not None for r in rows)
    cols = (("config", "ppl", "d% float", "d% fixed8") + tuple(f"ppl {d}" for d in texts)
            + (("acc %", "d acc float", "d acc fixed8") if task else ())
            + ("LUT", "DSP", "BRAM", "URAM", "cyc/tok b=1", "cyc/tok batched", "tok/s b=1", "tok/s batched", "uJ/token",
               "E/fixed8", "E dyn/fixed8"))
    for c in cols:
        t.add_column(c, justify="left" if c == "config" else "right", no_wrap=c == "config" or c.startswith("ppl "))
    for r in rows:
        res = r.get("resources") or {}
        ratio = r.get("energy_vs_fixed8")
        acc = r.get("task_accuracy")
        task_cells = ((f"{acc:.1f} +- {r.get('task_accuracy_stderr') or 0:.1f}" if acc is not None else "-",
                       _n(r.get("delta_task_accuracy"), "+.1f"), _n(r.get("delta_task_accuracy_vs_fixed8"), "+.1f"))
                      if task else ())
        t.add_row(escape(str(r["config"])), _n(r.get("ppl"), ".3f"), _n(r.get("delta_ppl_pct"), "+.2f"),
                  _n(r.get("delta_ppl_vs_fixed8_pct"), "+.2f"), *(_text_ppl(r, d) for d in texts), *task_cells,
                  _n(res.get("LUT"), ",.0f"), _n(res.get("DSP"), ",.0f"),
                  _n(res.get("BRAM"), ",.0f"), _n(res.get("URAM"), ",.0f"), _n(r.get("decode_cycles_per_token"), ",.0f"),
                  _n(r.get("decode_batched_cycles_per_token"), ",.0f"), _n(r.get("tokens_per_s_decode"), ",.0f"),
                  _n(r.get("tokens_per_s_decode_batched"), ",.0f"), _n(r.get("energy_per_token_uj"), ".2f"),
                  _n(ratio, ".3f"), _n(r.get("dynamic_energy_vs_fixed8"), ".3f"))
    t.caption = ("d% = perplexity change vs float / vs the fixed8 run (negative: more accurate); ppl <text>: the "
                 "same formats on another text (eval.extra_datasets; d% vs float); acc %: zero-shot task accuracy "
                 "+- its standard error, d acc: its change in points vs float / vs the fixed8 run; E/fixed8: energy "
                 "per token over the fixed8 run's, total (static power included) and dynamic only; decode figures are analytical (KV-cache model; the RTL is the prefill datapath); uJ/token at the batched rate; '-': "
                 "not measured (no evaluate / hw_report stage, or no fixed8 run)")
    return t


def summarize(root: Path | str, console=None, write: bool = True) -> list[dict[str, Any]]:
    """Rows of every report.json under `root`, printed as the sweep table and written to root/sweep.json."""
    from .tables import make_console

    root = Path(root)
    reports = collect_reports(root)
    rows = sweep_rows(reports)
    if not rows:
        return rows
    if console is None:
        console = make_console()
    console.print(sweep_table(rows, f"sweep {root}: accuracy and hardware"))
    if write:
        from .sweep_files import write_files

        write_json(root / SWEEP_FILE, {"baseline_quant": BASELINE_QUANT, "rows": rows})
        log.info("sweep summary written to %s", root / SWEEP_FILE)
        try:
            log.info("sweep table and plot: %s", ", ".join(str(p) for p in write_files(rows, root)))
        except Exception as exc:  # a plot must never turn a finished sweep into a failure
            log.warning("sweep plot failed: %s", exc)
    return rows


try:  # the Hydra callback (Hydra is a dependency of the CLI; the functions above work without it)
    from hydra.experimental.callback import Callback
except Exception:  # pragma: no cover
    Callback = object


class SweepSummary(Callback):
    """After a multirun: the sweep table over the jobs' report.json files, and <sweep>/sweep.json."""

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        try:
            summarize(Path(config.hydra.sweep.dir))
        except Exception as exc:  # a summary must never turn a finished sweep into a failure
            log.warning("sweep summary failed: %s", exc)
