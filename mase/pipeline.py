"""Named stages run in order over one run context (FINN-style build steps).

Each stage is a function `stage(ctx) -> dict` registered under its name; `cfg.stages` lists which
to run, in order (default `${target.stages}`: target sim -> quantize, evaluate, emit, lint, sim,
report, hw_report; FPGA targets also synth and pnr). Each stage writes its result to the run folder (`layers.json`, `eval.json`,
`report.json`) so later stages and later tools read files with stable names. Issue 6 appends
hardware stages (emit, lint, sim, synth, pnr) with `@stage("emit", after="evaluate")`.

Every result file records the config it was computed from (mase.provenance); a stage that reads an
earlier stage's file from the run folder (a resume) gets it only when it matches the current config,
and the run is refused up front, with one line naming the stage to add, when it does not.

    >>> from mase.config import compose
    >>> from mase.pipeline import run
    >>> ctx = run(compose(["+model=tiny-llama", "quant=mxint4"]), "outputs/try")
    >>> ctx.results["report"]["ppl"]
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf
from rich.console import Console

import mase
from mase.errors import MaseError

log = logging.getLogger("mase")
STAGES: dict[str, Callable[["RunContext"], dict[str, Any]]] = {}
RESULT_FILES = {"quantize": "layers.json", "evaluate": "eval.json", "report": "report.json"}
# stage -> (earlier stages whose result files it reads when they did not run in this run, of which
# the ones it cannot work without); checked before any stage runs (check_folder)
READS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {"report": (("evaluate",), ())}


def stage(name: str, after: str | None = None, result_file: str | None = None, reads: tuple[str, ...] = (),
          needs: tuple[str, ...] = ()):
    """Register a stage; `after` places it behind an existing one in the canonical order; `reads` and
    `needs` name the earlier stages whose results it reads from the run folder (`needs`: required)."""

    def deco(fn):
        items = [(k, v) for k, v in STAGES.items() if k != name]
        pos = len(items) if after is None else [k for k, _ in items].index(after) + 1
        items.insert(pos, (name, fn))
        STAGES.clear()
        STAGES.update(items)  # in place: every importer sees the same ordered registry
        if result_file:
            RESULT_FILES[name] = result_file
        if reads or needs:
            READS[name] = (tuple(reads) + tuple(n for n in needs if n not in reads), tuple(needs))
        return fn

    return deco


def make_console() -> Console:
    from mase.report.tables import make_console as _make

    return _make()


@dataclass
class RunContext:
    cfg: DictConfig
    out_dir: Path
    model: Any = None
    tokenizer: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    console: Console = field(default_factory=lambda: make_console())

    def ensure_model(self) -> None:
        if self.model is None:
            from mase.models import load_model

            self.model, self.tokenizer = load_model(self.cfg.model)

    @property
    def quantized(self) -> bool:
        """The model in memory was quantized in this run (no quantize stage: the float model)."""
        return getattr(self.model, "mase_plan", None) is not None

    def result(self, name: str) -> dict[str, Any] | None:
        """A stage's result from this run, else from its file in the run folder (resume), which must
        have been computed from the current config (else MaseError naming the stage to add)."""
        if name in self.results:
            return self.results[name]
        quantized = self.quantized if self.model is not None else None
        return read_result(self.cfg, self.out_dir, name, quantized)

    def save(self, name: str, data: dict[str, Any], **state: Any) -> dict[str, Any]:
        """Write `name`'s result file with its provenance (state: see mase.provenance.STATES)."""
        from mase.provenance import stamp
        from mase.report import write_json

        state.setdefault("quantized", self.quantized)
        write_json(self.out_dir / RESULT_FILES.get(name, f"{name}.json"), stamp(data, self.cfg, name, **state))
        return data


def _accuracy_state(cfg: DictConfig, name: str, quantized: bool | None) -> dict[str, Any]:
    """What an accuracy result read now must have been computed under (unpinned: any)."""
    state: dict[str, Any] = {}
    if name in ("evaluate", "report"):
        if quantized is not None:
            state["quantized"] = quantized
        mode = str(cfg.eval.get("numerics", "auto") or "auto")
        if mode != "auto":  # auto: whichever numerics scored it (report.json names them)
            state["numerics"] = mode
    return state


def _load(cfg: DictConfig, out_dir: Path, name: str, quantized: bool | None):
    """(content of stage `name`'s result file or None, None) if usable; else (None, (file, why, stages to add))."""
    from mase.provenance import matches, stale

    rel = RESULT_FILES.get(name, f"{name}.json")
    path = Path(out_dir) / rel
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return None, (rel, "is not valid JSON (an interrupted run?)", [name])
    if name == "report" and isinstance(data, dict) and not ({"ppl", "provenance"} & set(data)):
        return None, None  # only a hardware section (hw_report without report): no accuracy to keep
    state = _accuracy_state(cfg, name, quantized)
    why = stale(data, cfg, name, **state)
    if why is None:
        return data, None
    add = [name]
    if state.get("quantized") is False and matches(data, cfg, name, **{**state, "quantized": True}):
        add = ["quantize"]  # computed from this config's quantized model: this run lacks the quantize stage
    return None, (rel, why, add)


def read_result(cfg: DictConfig, out_dir: Path, name: str, quantized: bool | None = None) -> dict[str, Any] | None:
    """Stage `name`'s result file in `out_dir` if it was computed from `cfg`; None if there is none;
    else MaseError (one line: the file, what differs, the stage to add). `quantized`: whether this
    run's model is quantized (None: unknown, any)."""
    from mase.provenance import refusal

    data, problem = _load(cfg, out_dir, name, quantized)
    if problem:
        raise refusal([problem], out_dir)
    return data


def check_folder(cfg: DictConfig, out_dir: Path, names: list[str]) -> None:
    """Before any stage runs: every result file a stage will read from the run folder (not computed
    earlier in this run) was computed from `cfg` (all stale ones named in one line), and the required
    ones exist."""
    from mase.provenance import refusal

    problems: dict[str, tuple] = {}
    for i, n in enumerate(names):
        before = names[:i]
        reads, needs = READS.get(n, ((), ()))
        for dep in reads:
            if dep in before:
                continue
            found, problem = _load(cfg, out_dir, dep, "quantize" in before)
            if problem:
                problems.setdefault(problem[0], problem)
            elif found is None and dep in needs:
                raise MaseError(f"stage {n} needs the results of the {dep} stage ({RESULT_FILES.get(dep)}), not in "
                                f"{out_dir}: run the {dep} stage first (add it to stages before {n})")
            elif n == "report" and found is None and not {"quantize", "evaluate"} & set(before):
                raise MaseError(f"stage report has nothing to report: no quantize or evaluate stage and no "
                                f"{RESULT_FILES['evaluate']} in {out_dir}: add them, e.g. stages=[quantize,evaluate,report]")
    if problems:  # in stage order: the stages to add read as a stages list
        order = list(STAGES)
        raise refusal(sorted(problems.values(), key=lambda p: order.index(p[2][0]) if p[2][0] in order else 0), out_dir)


@stage("quantize")
def quantize_stage(ctx: RunContext) -> dict[str, Any]:
    from rich.markup import escape

    from mase.provenance import quant_label
    from mase.quantize import layer_table, quantize_model
    from mase.report import layer_table as rich_layer_table, layer_table_text

    ctx.ensure_model()
    quantize_model(ctx.model, ctx.cfg.quant, ctx.cfg.model.name, ctx.tokenizer, ctx.cfg.eval)  # fixed8: calibrates
    rows = layer_table(ctx.model)
    (ctx.out_dir / "layers.txt").write_text(layer_table_text(rows) + "\n")
    ctx.console.print(rich_layer_table(rows, f"{ctx.cfg.model.name}: formats applied ({escape(quant_label(ctx.cfg.quant))})"))
    log.info("per-layer formats written to %s", ctx.out_dir / "layers.txt")
    n_q = sum(r["quantized"] for r in rows)
    # layers.json: the counts, the per-layer rows and the provenance
    return ctx.save("quantize", {"layers": len(rows), "quantized": n_q, "float": len(rows) - n_q, "rows": rows})


@stage("evaluate")
def evaluate_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.evaluate import evaluate, numerics_mode

    ctx.ensure_model()
    mode = numerics_mode(ctx.cfg.eval, list(ctx.cfg.stages))  # runs that emit hardware score the hardware
    hw = ctx.cfg.get("hw", None)
    if mode == "hardware" and hw is not None:  # the numerics of the design emit builds (hw.fold=auto decided)
        from mase.compiler.stages import resolved_hw

        hw = resolved_hw(ctx)[0]
    res = evaluate(ctx.model, ctx.tokenizer, ctx.cfg.eval, mode, ctx.cfg.quant, hw)
    return ctx.save("evaluate", res, numerics=res.get("numerics", mode))


@stage("report")
def report_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.provenance import quant_label
    from mase.quantize import bit_stats
    from mase.report import build_report, report_table, report_text

    ctx.ensure_model()
    quantized = ctx.quantized  # the quantize stage ran in this run; else the float model's report
    t = ctx.cfg.target
    ev = ctx.result("evaluate")  # None: a bits-only report (checked up front: quantize ran)
    if ev is None:
        log.warning("no evaluate stage and no eval.json: perplexity not measured (add evaluate to stages)")
    layers = ctx.results.get("quantize")
    rep = build_report(
        ctx.cfg.model.name, quant_label(ctx.cfg.quant) if quantized else "float", ev, bit_stats(ctx.model),
        quant_preset=str(ctx.cfg.quant.name) if quantized else None,
        layers={k: layers[k] for k in ("layers", "quantized", "float")} if layers else None,
        target={"name": t.name, "kind": t.kind, "part": t.part, "clock_mhz": t.clock_mhz},
        nonlinear=dict(ctx.cfg.quant.nonlinear),
        quant_mode=ctx.cfg.quant.mode,
        stages=list(ctx.cfg.stages),
        mase_version=mase.__version__,
        extra=OmegaConf.to_container(ctx.cfg.extra, resolve=True),  # nested values too (a search's picks)
        quant_config=OmegaConf.to_container(ctx.cfg.quant, resolve=True),
    )
    ctx.save("report", rep, numerics=(ev or {}).get("numerics", "quantized"))
    ctx.console.print(report_table([rep], f"accuracy ({ctx.out_dir})"))
    log.info("report: %s", report_text(rep))
    return rep


def run(cfg: DictConfig, out_dir: str | Path, stages: list[str] | None = None, **ctx_kw: Any) -> RunContext:
    """Validate `cfg` and run its stages (or `stages`) in order into `out_dir`."""
    from mase.config.validate import check_output_dir, validate_config

    validate_config(cfg)
    names = list(stages if stages is not None else cfg.stages)
    from mase.compiler.preflight import check_hardware

    check_hardware(cfg, names)  # hardware the cores cannot build is refused here, before any stage
    check_output_dir(out_dir, names, "out_dir")
    if not names:
        raise MaseError(f"stages=[] runs nothing: name the stages to run (in order: {', '.join(STAGES)})")
    for n in names:
        if n not in STAGES:
            raise MaseError(f"stages: unknown stage {n!r}; available stages in order: {', '.join(STAGES)}")
    check_folder(cfg, Path(out_dir), names)  # results of another config in the run folder: refused here
    ctx = RunContext(cfg, Path(out_dir), **ctx_kw)
    from mase.compiler.preflight import check_model

    check_model(ctx, names)  # a model the cores cannot map is refused before quantize and evaluate run
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    # the fully resolved config (Hydra's .hydra/config.yaml keeps interpolations unresolved)
    OmegaConf.save(cfg, ctx.out_dir / "mase_config.yaml", resolve=True)
    for n in names:
        t0 = time.perf_counter()
        log.info("stage %s", n)
        ctx.results[n] = STAGES[n](ctx)
        log.info("stage %s done in %.1f s", n, time.perf_counter() - t0)
    return ctx


# the hardware stages (emit, lint, sim, synth, pnr, hw_report) register themselves on import
from mase.compiler import stages as _hw_stages  # noqa: E402,F401
