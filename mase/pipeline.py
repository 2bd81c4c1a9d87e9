"""Named stages run over one run context (FINN-style build steps).

Each stage is a function `stage(ctx) -> dict` registered under its name; `cfg.stages` lists which
to run, in order (default `${target.stages}`: target sim -> quantize, evaluate, emit, lint, sim,
report, hw_report; FPGA targets also synth and pnr). Each stage writes its result to the run folder (`layers.json`, `eval.json`,
`report.json`) so later stages and later tools read files with stable names. Issue 6 appends
hardware stages (emit, lint, sim, synth, pnr) with `@stage("emit", after="evaluate")`.

Each stage also declares the stages it depends on (`deps`, table DEPS: evaluate and emit on quantize,
lint on emit, sim on lint, synth on emit, pnr on synth, report on evaluate, hw_report on every earlier
one). With `jobs` > 1 (default min(2, cores)) a stage starts as soon as the earlier stages of the list
it depends on (or that depend on it) have finished, up to `jobs` at once in threads: on an FPGA target
evaluate and the simulation run beside synth -> pnr. `jobs=1` runs the list one stage after the other.
The first failing stage stops the run: no other stage starts, the running ones are stopped
(mase.cancel: their tool processes are ended) and that first error is raised.

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
import os
import queue
import threading
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
# stage -> the stages whose results (in memory or in the run folder) it reads, or whose change of the
# model it needs (quantize quantizes ctx.model in place); None: all of them (a stage registered without
# `deps`). Taken transitively: a stage of a run waits for the earlier stages of its list that it depends
# on, directly or not, and for those that depend on it (they read what it would change: the list's order)
DEPS: dict[str, tuple[str, ...] | None] = {}
# stage -> rough run time (seconds of the default smollm2-135m ECP5-85 run on 2 cores: quantize 17,
# evaluate 150, lint 60, sim 500, synth 700, pnr 15+ min): of the ready stages, the one heading the
# longest remaining path starts first (synth -> pnr before lint -> sim); a stage of weight 0 (report:
# tables from results on disk) takes no slot, so its table prints as soon as its inputs exist
WEIGHTS: dict[str, float] = {}


def stage(name: str, after: str | None = None, result_file: str | None = None, reads: tuple[str, ...] = (),
          needs: tuple[str, ...] = (), deps: tuple[str, ...] | None = None, weight: float = 1.0):
    """Register a stage; `after` places it behind an existing one in the canonical order; `reads` and
    `needs` name the earlier stages whose results it reads from the run folder (`needs`: required);
    `deps` the stages it depends on within a run (None: every earlier stage of the run's list);
    `weight` its rough run time (WEIGHTS)."""

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
        DEPS[name] = None if deps is None else tuple(deps)
        WEIGHTS[name] = float(weight)
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
    # stage -> {"start", "end"}: seconds from the start of its run's stages
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    running: set = field(default_factory=set)  # the stages running now (side by side with jobs > 1)
    _model_lock: Any = field(default_factory=threading.Lock, repr=False)

    def ensure_model(self) -> None:
        """Load the model once (stages running side by side both ask for it)."""
        if self.model is None:
            with self._model_lock:
                if self.model is None:
                    from mase.models import load_model

                    model, self.tokenizer = load_model(self.cfg.model)
                    self.model = model  # last: another thread that sees it sees the tokenizer too

    def cores(self) -> int:
        """The cores a stage may keep busy now: the machine's, less one for each other running stage."""
        return max(1, cpu_count() - max(0, len(self.running) - 1))

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


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs() -> int:
    """jobs=0 (the default): two stages at once on a machine with two cores or more."""
    return min(2, cpu_count())


def _closure(name: str) -> set[str] | None:
    """Every stage `name` depends on, transitively (None: all)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        deps = DEPS.get(todo.pop())
        if deps is None:
            return None
        for d in deps:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def waits_for(names: list[str]) -> dict[str, list[str]]:
    """For each stage of a run's list, the earlier stages of the list it must wait for: those it depends
    on and those that depend on it (which read what it changes), so that every stage sees what it would
    see with the list run one stage after the other."""
    closure = {n: _closure(n) for n in names}

    def ordered(a: str, b: str) -> bool:
        ca, cb = closure[a], closure[b]
        return ca is None or cb is None or a in cb or b in ca

    return {b: [a for a in names[:j] if ordered(a, b)] for j, b in enumerate(names)}


@stage("quantize", deps=(), weight=17)
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


@stage("evaluate", deps=("quantize",), weight=150)
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


@stage("report", deps=("quantize", "evaluate"), weight=0)
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
    jobs = int(cfg.get("jobs", 0) or 0) or default_jobs()
    t0 = time.perf_counter()
    from mase import cancel

    cancel.reset()
    try:
        if jobs == 1 or len(names) == 1 or len(set(names)) != len(names):
            for n in names:  # one after the other, in the list's order
                _begin(ctx, n, t0)
                ctx.results[n] = STAGES[n](ctx)
                _end(ctx, n, t0)
        else:
            _run_side_by_side(ctx, names, jobs, t0)
    finally:
        cancel.reset()  # (a stage may have stopped its own tools on an error: mase.cancel)
    log.info("stages done in %.1f s (%s; jobs=%d)", time.perf_counter() - t0, ", ".join(
        f"{n} {ctx.timings[n]['start']:.0f}-{ctx.timings[n]['end']:.0f} s" for n in names), jobs)
    return ctx


def _begin(ctx: RunContext, n: str, t0: float) -> None:
    ctx.timings[n] = {"start": time.perf_counter() - t0}
    ctx.running.add(n)
    others = sorted(ctx.running - {n})
    if others:  # (mase.cli follows these two messages: the stages a Ctrl-C interrupts)
        log.info("stage %s (beside %s)", n, ", ".join(others))
    else:
        log.info("stage %s", n)


def _end(ctx: RunContext, n: str, t0: float, how: str = "done") -> None:
    ctx.running.discard(n)
    ctx.timings[n]["end"] = time.perf_counter() - t0
    dt = ctx.timings[n]["end"] - ctx.timings[n]["start"]
    if how == "done":  # (mase.cli follows this message)
        log.info("stage %s done in %.1f s", n, dt)
    else:
        log.info("stage %s %s after %.1f s", n, how, dt)


def _takes_slot(name: str) -> bool:
    """A stage of weight 0 (WEIGHTS) runs beside the others without counting against `jobs`."""
    return WEIGHTS.get(name, 1.0) > 0


def _run_side_by_side(ctx: RunContext, names: list[str], jobs: int, t0: float) -> None:
    """Run each stage in a thread as soon as the stages it waits for (waits_for) have finished, at
    most `jobs` at once; ready stages start in the order of the longest path (WEIGHTS) of stages
    waiting on them, then of the list. The first error (or Ctrl-C) stops the others (mase.cancel) and
    is raised."""
    from mase import cancel

    waits = waits_for(names)
    after = {n: [m for m in names if n in waits[m]] for n in names}
    chain: dict[str, float] = {}
    for n in reversed(names):  # the longest path of stages waiting on n, n included
        chain[n] = WEIGHTS.get(n, 1.0) + max((chain[m] for m in after[n]), default=0.0)
    pending = list(names)
    finished: set[str] = set()
    done: queue.Queue = queue.Queue()
    threads: dict[str, threading.Thread] = {}
    first: BaseException | None = None
    threads_torch = _torch_threads()

    def work(n: str, shared: bool) -> None:
        try:
            with _torch_threads_set(1 if shared else threads_torch):
                done.put((n, STAGES[n](ctx), None))
        except BaseException as exc:  # noqa: BLE001 (handed to the main thread: raised there)
            done.put((n, None, exc))

    try:
        while pending or threads:
            if first is None:
                ready = [n for n in pending if all(w in finished for w in waits[n])]
                ready.sort(key=lambda n: (-chain[n], names.index(n)))
                light = [n for n in ready if not _takes_slot(n)]
                busy = sum(map(_takes_slot, threads))
                heavy = [n for n in ready if _takes_slot(n)][:max(0, jobs - busy)]
                start = light + heavy
                shared = busy + len(heavy) > 1  # evaluate's PyTorch beside another stage: one thread
                for n in start:
                    pending.remove(n)
                    _begin(ctx, n, t0)
                    threads[n] = threading.Thread(target=work, args=(n, shared), name=f"stage-{n}", daemon=True)
                    threads[n].start()
            if not threads:
                break
            try:
                n, res, exc = done.get(timeout=1.0)
            except queue.Empty:
                continue
            threads.pop(n).join()
            if exc is None:
                ctx.results[n] = res
                finished.add(n)
                _end(ctx, n, t0)
                continue
            stopped = isinstance(exc, cancel.Cancelled)
            _end(ctx, n, t0, "stopped" if stopped else "failed")
            if first is None:
                first = exc
                if threads:
                    log.info("stopping %s", ", ".join(sorted(threads)))
                cancel.cancel()
    except BaseException:  # Ctrl-C in the main thread: the stages' tools run in their own process groups
        cancel.cancel()
        for n, th in list(threads.items()):
            th.join()
            _end(ctx, n, t0, "stopped")
        raise
    if first is not None:
        raise first


def _torch_threads() -> int | None:
    import sys

    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


class _torch_threads_set:
    """torch's intra-op threads of the calling thread (OpenMP keeps them per thread) for a block."""

    def __init__(self, n: int | None):
        self.n, self.old = n, None

    def __enter__(self):
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and self.n:
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.old:
            import torch

            torch.set_num_threads(self.old)
        return False


# the hardware stages (emit, lint, sim, synth, pnr, hw_report) register themselves on import
from mase.compiler import stages as _hw_stages  # noqa: E402,F401
