"""After a search: the trials, their Pareto front, reference points, the best config.

    python -m mase.search report multirun/<date_time>     # again, from the trial folders
    mase --config-dir multirun/<date_time>/conf +model=NAME quant=best

Written under the sweep folder: search/trials.csv (every trial; `pareto` marks the front), search/pareto.png
(perplexity vs average weight bits, and vs energy per token when measured, with the reference runs
marked), search/summary.json, and conf/quant/best.yaml (the best trial's quant config, a loadable
preset). The best trial: with one objective, the lowest value within the budget; with several, the
fewest average weight bits among the trials within the budget that reach the target (perplexity at most
search.target_delta_pct over float), else the lowest perplexity. `SearchReport` runs this as a Hydra
callback at the end of the sweep, after running the reference presets (search.references) once.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from mase.errors import MaseError

from .trial import TRIAL_FILE

log = logging.getLogger("mase")
OUT = "search"
REF_DIR = "references"
_NUM = re.compile(r"^(\d+)_")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def collect(sweep: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(trials in order, reference runs) from the sweep folder."""
    trials, refs = [], []
    for f in sorted(sweep.glob(f"*/{TRIAL_FILE}")):
        m = _NUM.match(f.parent.name)
        if not m or (rec := _read(f)) is None:
            continue
        trials.append(_row(rec, _read(f.parent / "report.json") or {}, f.parent, int(m[1])))
    for f in sorted((sweep / REF_DIR).glob("*/report.json")):
        rep = _read(f) or {}
        refs.append(_row(_read(f.parent / TRIAL_FILE) or {}, rep, f.parent, None))
    trials.sort(key=lambda r: r["trial"])
    return trials, refs


def _row(rec: dict[str, Any], rep: dict[str, Any], folder: Path, num: int | None) -> dict[str, Any]:
    obj = rec.get("objectives") or {}
    hw = rec.get("hardware") or {}
    over = bool(rec.get("over_budget"))
    return {"trial": num, "folder": folder.name, "over_budget": over, "picks": rec.get("picks") or {},
            "quant": rep.get("quant") or folder.name, "quant_preset": rep.get("quant_preset"),
            "ppl": None if over else rep.get("ppl", obj.get("ppl")),
            "avg_weight_bits": rep.get("avg_weight_bits", rec.get("avg_weight_bits")),
            "avg_act_bits": None if over else rep.get("avg_act_bits"),
            "energy_per_token": hw.get("energy_per_token", obj.get("energy_per_token")),
            "objectives": obj, "quant_config": rep.get("quant_config"),
            # the same formats on other texts (eval.extra_datasets) and the task accuracy (eval.task), if measured
            "ppl_other": {d: v.get("ppl") for d, v in (rep.get("ppl_datasets") or {}).items()
                          if d != rep.get("dataset") and not over},
            "task_accuracy": None if over else rep.get("task_accuracy")}


def _axes(objectives: list[str]) -> list[str]:
    return objectives if len(objectives) > 1 else ["ppl", "avg_weight_bits"]


def _picks_text(picks: dict[str, str], most: int = 12) -> str:
    """slot=choice for up to `most` slots; beyond (granularity=layer), how many slots took each choice
    (trials.csv and summary.json keep every pick)."""
    if len(picks) <= most:
        return " ".join(f"{k}={v}" for k, v in picks.items())
    counts: dict[str, int] = {}
    for v in picks.values():
        counts[v] = counts.get(v, 0) + 1
    return f"{len(picks)} slots: " + " ".join(f"{c}x{n}" for c, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def pareto(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    pts = [r for r in rows if not r["over_budget"] and all(isinstance(r.get(k), (int, float)) for k in keys)]

    def dominates(a, b):
        return all(a[k] <= b[k] for k in keys) and any(a[k] < b[k] for k in keys)

    return [r for r in pts if not any(dominates(o, r) for o in pts)]


def choose_best(rows: list[dict[str, Any]], objectives: list[str], budget: float | None,
                target: float | None) -> dict[str, Any] | None:
    ok = [r for r in rows if not r["over_budget"] and r.get("ppl") is not None and r.get("quant_config")
          and (budget is None or r["avg_weight_bits"] <= budget + 1e-9)]
    if not ok:
        return None
    if len(objectives) == 1:
        return min(ok, key=lambda r: (r["objectives"].get(objectives[0], r.get(objectives[0])), r["trial"]))
    hit = [r for r in ok if target is not None and r["ppl"] <= target]
    return min(hit, key=lambda r: (r["avg_weight_bits"], r["ppl"])) if hit else min(ok, key=lambda r: r["ppl"])


def write_best(sweep: Path, best: dict[str, Any]) -> Path:
    import yaml

    from mase.files import write_atomic

    q = dict(best["quant_config"])
    q["name"] = "best"
    q["overrides"] = {k: {f: v for f, v in ov.items() if v is not None} for k, ov in (q.get("overrides") or {}).items()}
    path = sweep / "conf" / "quant" / "best.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = (f"# The best config of the search in {sweep} (trial {best['trial']}, folder {best['folder']}):\n"
            f"# ppl {best['ppl']:.4f}, {best['avg_weight_bits']:.3f} average weight bits. Run it with\n"
            f"#   mase --config-dir {sweep / 'conf'} +model=NAME quant=best\n")
    body = yaml.safe_dump({"defaults": ["quant_schema", "_self_"], **q}, sort_keys=False)
    write_atomic(path, head + body)
    return path


def summarize(sweep: Path | str, console: Any = None) -> dict[str, Any]:
    """Table, CSV, plot and best.yaml of the search in `sweep`; returns the summary (search/summary.json)."""
    from mase.files import write_atomic
    from mase.report.tables import make_console

    sweep = Path(sweep)
    cfg = _sweep_config(sweep)
    s = cfg.get("search", {}) if cfg else {}
    objectives = list(s.get("objectives") or ["ppl"])
    budget = s.get("budget")
    trials, refs = collect(sweep)
    if not trials:
        raise MaseError(f"no search trials in {sweep} (no */{TRIAL_FILE}): is it a search sweep folder?")
    sens = _read(sweep / "search" / "sensitivity.json") or {}
    ppl_float = sens.get("ppl_float") or next((r["ppl"] for r in refs if r["quant_preset"] == "fp32"), None)
    target = ppl_float * (1 + float(s.get("target_delta_pct", 10.0)) / 100) if ppl_float else None
    axes = _axes(objectives)
    front = pareto(trials, axes)
    for r in trials:
        r["pareto"] = r in front
    reached = next((r for r in trials if target is not None and r["ppl"] is not None and r["ppl"] <= target
                    and (budget is None or r["avg_weight_bits"] <= budget + 1e-9)), None)
    best = choose_best(trials, objectives, budget, target)
    out = sweep / OUT
    out.mkdir(parents=True, exist_ok=True)
    _csv(out / "trials.csv", trials + [dict(r, trial=f"ref:{r['quant']}") for r in refs])
    png = plot(out / "pareto.png", trials, refs, target)
    summary = {"objectives": objectives, "budget": budget, "trials": len(trials),
               "evaluated": sum(not r["over_budget"] for r in trials),
               "over_budget": sum(r["over_budget"] for r in trials), "ppl_float": ppl_float, "target_ppl": target,
               "trials_to_target": reached["trial"] + 1 if reached else None,
               "best": {k: best[k] for k in ("trial", "folder", "ppl", "avg_weight_bits", "avg_act_bits",
                                             "energy_per_token", "picks", "quant", "ppl_other",
                                             "task_accuracy")} if best else None,
               "pareto": [{k: r[k] for k in ("trial", "ppl", "avg_weight_bits", "energy_per_token", "picks",
                                             "ppl_other", "task_accuracy")} for r in front],
               "references": [{k: r[k] for k in ("quant", "ppl", "avg_weight_bits", "energy_per_token", "ppl_other",
                                                 "task_accuracy")} for r in refs],
               "plot": str(png) if png else None}
    if best:
        summary["best_yaml"] = str(write_best(sweep, best))
    write_atomic(out / "summary.json", json.dumps(summary, indent=1, default=float))
    console = console or make_console()
    console.print(table(trials, refs, front, best, summary))
    return summary


def _sweep_config(sweep: Path) -> dict[str, Any] | None:
    """The sweep's resolved config: the first trial's .hydra/config.yaml (without the trial's picks)."""
    import yaml

    for f in sorted(sweep.glob("*/.hydra/config.yaml")):
        try:
            return yaml.safe_load(f.read_text())
        except Exception:
            continue
    return None


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    slots = sorted({k for r in rows for k in r["picks"]})
    texts = _texts(rows)
    cols = ["trial", "folder", "pareto", "over_budget", "ppl", *(f"ppl_{d}" for d in texts), "task_accuracy",
            "avg_weight_bits", "avg_act_bits", "energy_per_token", "quant", *slots]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            other = {f"ppl_{d}": v for d, v in (r.get("ppl_other") or {}).items()}
            w.writerow([r["picks"].get(c, "") if c in slots else other.get(c, r.get(c, "")) for c in cols])


def _texts(rows: list[dict[str, Any]]) -> list[str]:
    """The other texts any row measured (eval.extra_datasets), in first-seen order."""
    return list(dict.fromkeys(d for r in rows for d in (r.get("ppl_other") or {})))


def plot(path: Path, trials: list[dict[str, Any]], refs: list[dict[str, Any]], target: float | None) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = ["avg_weight_bits"] + (["energy_per_token"] if any(r.get("energy_per_token") for r in trials) else [])
    fig, axes = plt.subplots(1, len(xs), figsize=(6 * len(xs), 4.5), squeeze=False)
    for ax, x in zip(axes[0], xs):
        pts = [r for r in trials if r.get("ppl") and r.get(x) is not None]
        front = sorted((r for r in pts if r.get("pareto")), key=lambda r: r[x])
        ax.scatter([r[x] for r in pts], [r["ppl"] for r in pts], s=14, c="tab:blue", alpha=0.5, label="trials")
        if x == "avg_weight_bits" and front:
            ax.plot([r[x] for r in front], [r["ppl"] for r in front], "-o", c="tab:red", ms=4, label="Pareto front")
        for r in refs:
            if r.get("ppl") and x == "avg_weight_bits" and r[x] > 16:  # float: a line, not a point far right
                ax.axhline(r["ppl"], ls=":", c="black", lw=1, label=f"{r['quant_preset'] or r['quant']} (float)")
            elif r.get("ppl") and r.get(x) is not None:
                ax.scatter([r[x]], [r["ppl"]], marker="*", s=120, zorder=3)
                ax.annotate(r["quant_preset"] or r["quant"], (r[x], r["ppl"]), textcoords="offset points", xytext=(5, 5))
        if target:
            ax.axhline(target, ls="--", c="grey", lw=1, label="target")
        ax.set_xlabel({"avg_weight_bits": "average weight bits (scale included)",
                       "energy_per_token": "energy per token (uJ, analytical)"}[x])
        ax.set_ylabel("perplexity")
        if pts and max(r["ppl"] for r in pts) / max(1e-9, min(r["ppl"] for r in pts)) > 20:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(v: Any, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def table(trials, refs, front, best, summary):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"search: Pareto front ({len(front)} of {summary['evaluated']} evaluated trials; "
                    f"{summary['over_budget']} over budget) and references", title_justify="left")
    shown = sorted(front, key=lambda r: r["avg_weight_bits"]) + refs
    texts = _texts(shown)  # a second text (eval.extra_datasets): is a config tuned on one text good on another?
    task = any(r.get("task_accuracy") is not None for r in shown)
    for c in ("trial", "ppl", "d% float", *(f"ppl {d}" for d in texts), *(("acc %",) if task else ()), "w bits",
              "a bits", "uJ/token", "choices"):
        t.add_column(c, justify="left" if c in ("trial", "choices") else "right")
    pf = summary["ppl_float"]
    for r in shown:
        d = 100 * (r["ppl"] - pf) / pf if pf and r.get("ppl") else None
        name = (f"{r['trial']}" + (" best" if best is r else "")) if r["trial"] is not None else f"ref {r['quant']}"
        picks = _picks_text(r["picks"]) or r["quant"]
        t.add_row(escape(name), _f(r["ppl"], ".3f"), _f(d, "+.1f"),
                  *(_f((r.get("ppl_other") or {}).get(x), ".3f") for x in texts),
                  *((_f(r.get("task_accuracy"), ".1f"),) if task else ()), _f(r["avg_weight_bits"], ".3f"),
                  _f(r["avg_act_bits"], ".2f"), _f(r["energy_per_token"], ".3f"), escape(picks))
    tt = summary["trials_to_target"]
    t.caption = (f"target ppl {_f(summary['target_ppl'], '.3f')} (float {_f(pf, '.3f')}): "
                 + (f"first reached at trial {tt - 1} ({tt} trials)" if tt else
                    f"not reached in {summary['trials']} trials")
                 + (f"; best -> {summary.get('best_yaml')}" if best else "; no trial within budget"))
    return t


def run_references(config: Any) -> None:
    """The quant presets of search.references, once per sweep, into <sweep>/references/<name>/."""
    from omegaconf import OmegaConf

    from mase.config import load_group
    from mase.pipeline import run

    from .trial import objectives

    sweep = Path(str(config.hydra.sweep.dir))
    base = {k: OmegaConf.to_container(config[k], resolve=True) if OmegaConf.is_config(config[k]) else config[k]
            for k in config if k != "hydra"}
    for name in config.search.references:
        folder = sweep / REF_DIR / str(name)
        if (folder / "report.json").is_file():
            continue
        cfg = OmegaConf.merge(OmegaConf.structured(_schema()), base)
        cfg.quant = load_group("quant", str(name))
        if cfg.quant.weight_rounding == "gptq":  # calibrated as the trials are (e.g. mixed4's after_eval text)
            cfg.quant.merge_with({"gptq": base["quant"]["gptq"]})
        cfg.search.pick = {}
        log.info("search reference %s -> %s", name, folder)
        try:
            objectives(cfg, run(cfg, folder), None)
        except Exception as exc:  # one reference that cannot run leaves the others and the report
            log.warning("search reference %s not run: %s: %s", name, type(exc).__name__, exc)


def _schema():
    from mase.config.schema import MaseConfig

    return MaseConfig


try:
    from hydra.experimental.callback import Callback
except Exception:  # pragma: no cover
    Callback = object


class SearchReport(Callback):
    """After a search sweep: the reference runs, then the table, CSV, plot and best.yaml."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if config.search.references:
            run_references(config)
        try:
            summarize(Path(str(config.hydra.sweep.dir)))
        except Exception as exc:  # a summary must never turn a finished sweep into a failure
            log.warning("search report failed: %s", exc)
