"""Named stages run in order over one run context (FINN-style build steps).

Each stage is a function `stage(ctx) -> dict` registered under its name; `cfg.stages` lists which
to run, in order (default `${target.stages}`: target sim -> quantize, evaluate, emit, lint, sim,
report, hw_report; FPGA targets also synth and pnr). Each stage writes its result to the run folder (`layers.json`, `eval.json`,
`report.json`) so later stages and later tools read files with stable names. Issue 6 appends
hardware stages (emit, lint, sim, synth, pnr) with `@stage("emit", after="evaluate")`.

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
from mase.config.errors import MaseError

log = logging.getLogger("mase")
STAGES: dict[str, Callable[["RunContext"], dict[str, Any]]] = {}
RESULT_FILES = {"quantize": "layers.json", "evaluate": "eval.json", "report": "report.json"}


def stage(name: str, after: str | None = None, result_file: str | None = None):
    """Register a stage; `after` places it behind an existing one in the canonical order."""

    def deco(fn):
        items = [(k, v) for k, v in STAGES.items() if k != name]
        pos = len(items) if after is None else [k for k, _ in items].index(after) + 1
        items.insert(pos, (name, fn))
        STAGES.clear()
        STAGES.update(items)  # in place: every importer sees the same ordered registry
        if result_file:
            RESULT_FILES[name] = result_file
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

    def result(self, name: str) -> dict[str, Any] | None:
        """A stage's result from this run, else from its file in the run folder (resume)."""
        if name in self.results:
            return self.results[name]
        path = self.out_dir / RESULT_FILES.get(name, f"{name}.json")
        if path.is_file():
            return json.loads(path.read_text())
        return None


@stage("quantize")
def quantize_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.quantize import layer_table, quantize_model
    from mase.report import layer_table as rich_layer_table, layer_table_text, write_json

    ctx.ensure_model()
    quantize_model(ctx.model, ctx.cfg.quant, ctx.cfg.model.name, ctx.tokenizer, ctx.cfg.eval)  # fixed8: calibrates
    rows = layer_table(ctx.model)
    write_json(ctx.out_dir / "layers.json", rows)
    (ctx.out_dir / "layers.txt").write_text(layer_table_text(rows) + "\n")
    ctx.console.print(rich_layer_table(rows, f"{ctx.cfg.model.name}: formats applied ({ctx.cfg.quant.name})"))
    log.info("per-layer formats written to %s", ctx.out_dir / "layers.txt")
    n_q = sum(r["quantized"] for r in rows)
    return {"layers": len(rows), "quantized": n_q, "float": len(rows) - n_q}


@stage("evaluate")
def evaluate_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.evaluate import evaluate, numerics_mode
    from mase.report import write_json

    ctx.ensure_model()
    mode = numerics_mode(ctx.cfg.eval, list(ctx.cfg.stages))  # runs that emit hardware score the hardware
    res = evaluate(ctx.model, ctx.tokenizer, ctx.cfg.eval, mode, ctx.cfg.quant, ctx.cfg.get("hw", None))
    write_json(ctx.out_dir / "eval.json", res)
    return res


@stage("report")
def report_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.quantize import bit_stats
    from mase.report import build_report, report_table, report_text, write_json

    ctx.ensure_model()
    quantized = getattr(ctx.model, "mase_plan", None) is not None
    t = ctx.cfg.target
    rep = build_report(
        ctx.cfg.model.name, ctx.cfg.quant.name if quantized else "float", ctx.result("evaluate"), bit_stats(ctx.model),
        layers=ctx.result("quantize"),
        target={"name": t.name, "kind": t.kind, "part": t.part, "clock_mhz": t.clock_mhz},
        nonlinear=dict(ctx.cfg.quant.nonlinear),
        quant_mode=ctx.cfg.quant.mode,
        stages=list(ctx.cfg.stages),
        mase_version=mase.__version__,
        extra=dict(ctx.cfg.extra),
        quant_config=OmegaConf.to_container(ctx.cfg.quant, resolve=True),
    )
    write_json(ctx.out_dir / "report.json", rep)
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
    for n in names:
        if n not in STAGES:
            raise MaseError(f"stages: unknown stage {n!r}; available stages in order: {', '.join(STAGES)}")
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
