"""The hardware stages of the pipeline: emit, lint, sim, synth, pnr, hw_report.

Each is usable on its own (`stages=[emit]`, then later `stages=[lint,sim]` on the same folder:
every stage reads what the previous ones wrote into the run folder), from Python
(`mase.pipeline.run(cfg, out, stages=["emit", "lint"])`) and from the CLI:

    mase +model=tiny-llama quant=mxint4 target=sim stages=[quantize,emit,lint,sim,hw_report]

They are part of the default stages (`stages: ${target.stages}`): every run builds the accelerator.
Every result (hw/<stage>.json, hw/manifest.json) records the config it was computed from
(mase.provenance); a library or result of another config in the run folder is refused with one line.
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import mase
from mase.errors import MaseError
from mase.pipeline import RunContext, stage
from mase.provenance import check, record

log = logging.getLogger("mase")
HW_DIR, SIM_DIR, BUILD_DIR = "hw", "hw_sim", "build"
DEFAULT_PROMPT = "Microscaling formats let a small FPGA run a large language model."


def _hw(ctx: RunContext) -> Any:
    return ctx.cfg.get("hw", None) if hasattr(ctx.cfg, "get") else None


def resolved_hw(ctx: RunContext) -> tuple[Any, list[str]]:
    """The run's hw config with hw.fold=auto decided (mase.compiler.fold_choice), and the note naming the
    choice: the same for every stage that builds or scores the prefill design."""
    from mase.compiler.fold_choice import resolve_fold

    ctx.ensure_model()
    return resolve_fold(ctx.model, ctx.cfg.quant, _hw(ctx), ctx.cfg.target, int(hw_get(ctx, "prompt_tokens", 8)),
                        ctx.cfg.model.name)


def hw_get(ctx: RunContext, key: str, default: Any) -> Any:
    hw = _hw(ctx)
    v = hw.get(key, None) if hw is not None else None
    return default if v is None else v


def _prompt_ids(ctx: RunContext, n: int):
    import torch

    text = hw_get(ctx, "prompt", DEFAULT_PROMPT)
    ids = ctx.tokenizer.encode(text) if ctx.tokenizer is not None else list(range(3, 3 + n))
    ids = list(ids)
    if not ids:
        raise MaseError(f"hw.prompt={text!r} encodes to no tokens: give a longer text")
    while len(ids) < n:
        ids = ids + ids
    return torch.tensor(ids[:n], dtype=torch.long)


def _manifest(ctx: RunContext, folder: str = HW_DIR) -> dict:
    """The generated library's manifest, if emitted from the current config (else one-line MaseError)."""
    p = ctx.out_dir / folder / "manifest.json"
    if not p.is_file():
        raise MaseError(f"no generated library in {ctx.out_dir / HW_DIR}: run the emit stage first (stages=[emit,...])")
    man = json.loads(p.read_text())
    check(man, ctx.cfg, "emit", f"{folder}/manifest.json", ctx.out_dir, ["emit"])
    return man


def _state(man: dict) -> dict:
    """The state the library was emitted under (calibrated or not): the tools' results inherit it."""
    return dict((man.get("provenance") or {}).get("state") or {})


def _save(ctx: RunContext, name: str, res: dict, state: dict) -> dict:
    return ctx.save(name, res, **state)


def _stamp_manifest(ctx: RunContext, folder: str, man: dict, rec: dict) -> None:
    from mase.compiler.emit import json_text, write_text

    man["provenance"] = rec
    write_text(ctx.out_dir / folder / "manifest.json", json_text(man))


def _tool_error(exc: Exception, what: str) -> MaseError:
    text = str(exc).strip().splitlines()
    tail = "\n".join(text[-12:])
    return MaseError(f"{what} failed: {text[0] if text else exc}\n{tail}")


def _saturations(vals, sat, sim_layers: int, layers: int, T: int) -> dict | None:
    """Clipped values on the fixed-point streams for the simulated prompt, from the golden model."""
    from mase.compiler.golden import saturation_summary

    if sat is None:
        return None
    scope = "whole model" if sim_layers == layers else f"decoder layers 0-{sim_layers - 1}"
    return {**saturation_summary(sat), "source": f"golden model, the {T}-token simulated prompt ({scope}); the "
                                                 f"RTL clips the same values (bit-exact to it)"}


# ------------------------------------------------------------------------------------------------
@stage("emit", after="evaluate", result_file="hw/emit.json", deps=("quantize",), weight=10)
def emit_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.compiler.golden import host_embeddings, run_graph
    from mase.compiler.graph import capture
    from mase.compiler.library import write_library
    from mase.compiler.params import causal_attention, choose_parameters, cycle_model
    from mase.compiler.preflight import check_prompt_length, require_complete
    from mase.compiler.report import params_table

    t0 = time.perf_counter()
    ctx.ensure_model()
    cfg = ctx.cfg
    T = int(hw_get(ctx, "prompt_tokens", 8))
    check_prompt_length(ctx.model, T, cfg.model.name)
    hw, fold_notes = resolved_hw(ctx)
    g = capture(ctx.model, cfg.quant, seq_len=T, hw=hw, model_name=cfg.model.name)
    g.decode = g.prefill = causal_attention(hw)  # hw.attention=causal: the KV-cache datapath fed the prompt
    if g.decode and int(hw.get("fold", 0) or 0):
        raise MaseError(f"hw.attention=causal builds a spatial design, and hw.fold resolved to {hw.get('fold')}: "
                        f"set hw.fold=0 (a larger target if it does not fit) or hw.attention=block")
    t_capture = time.perf_counter() - t0
    plan = choose_parameters(g, cfg.target, hw)
    plan.notes[:0] = fold_notes
    t_params = time.perf_counter() - t0 - t_capture
    require_complete(g, plan)
    vals, no_golden = None, None
    # deep models: the first layer, or under fold the hardware's first pass (its N layers)
    sim_layers = int(hw_get(ctx, "sim_layers", 0)) or (g.layers if g.layers <= 4 else max(1, plan.fold))
    sim_layers = min(sim_layers, g.layers)
    if bool(hw_get(ctx, "golden", True)):
        ids = _prompt_ids(ctx, T)
        try:
            sat: dict = {}  # clipped values per fixed-point edge for this prompt (the RTL is bit-exact to it)
            vals = run_graph(g, host_embeddings(ctx.model, ids), None if sim_layers == g.layers else sim_layers,
                             sat=sat, causal=g.decode)
        except MaseError as exc:  # e.g. a fixed8 model emitted without its calibration: analytical figures only
            log.warning("no golden stimulus: %s", exc)
            no_golden = str(exc).splitlines()[0]
    t_golden = time.perf_counter() - t0 - t_capture - t_params
    rec = record(cfg, "emit", quantized=ctx.quantized)  # quantized in this run: calibrated stream formats
    h = rec["hash"]
    whole = sim_layers == g.layers
    names = {"top": str(hw_get(ctx, "top", "mase_top")), "vlnv": hw_get(ctx, "vlnv", None)}  # hw.top, hw.vlnv
    man = write_library(g, plan, vals if whole else None, ctx.out_dir / HW_DIR, mase.__version__, h, cfg.target,
                        **names)
    _stamp_manifest(ctx, HW_DIR, man, rec)
    import shutil

    shutil.rmtree(ctx.out_dir / SIM_DIR, ignore_errors=True)
    if not whole and vals is not None:  # the simulation library: the first sim_layers decoder layers
        sman = write_library(g, plan, vals, ctx.out_dir / SIM_DIR, mase.__version__, h, cfg.target, layers=sim_layers,
                             **names)
        _stamp_manifest(ctx, SIM_DIR, sman, rec)
        log.info("simulation library %s: decoder layers 0..%d, %d of %d nodes mapped", ctx.out_dir / SIM_DIR,
                 sim_layers - 1, sman["nodes_mapped"], sman["nodes_total"])
    cyc = cycle_model(g, plan, int(hw_get(ctx, "decode_context", 0)) or None)
    ctx.console.print(params_table(g, plan, f"{cfg.model.name} on {cfg.target.name}: hardware parameters (II {plan.ii} cycles/token)"))
    log.info("%s", g.summary())
    log.info("dataflow diagram: %s", ctx.out_dir / HW_DIR / "dataflow.svg")
    log.info("generated %s: %d of %d nodes mapped onto cores%s", man["core"], man["nodes_mapped"], man["nodes_total"],
             "" if man["complete"] else "; not mapped yet: " + ", ".join(f"{c} ({n})" for c, n in man["missing_by_core"].items()))
    for note in plan.notes:
        log.warning("%s", note)
    from mase.compiler.report import architecture_line

    arch = architecture_line(plan.to_dict(), g.layers)
    log.info("architecture: %s", arch)
    res = {"core": man["core"], "architecture": arch, "top": man["top"], "config_hash": h, "graph": g.summary(), "nodes": len(g.nodes),
           "nodes_mapped": man["nodes_mapped"], "complete": man["complete"], "missing_by_core": man["missing_by_core"],
           "ii": plan.ii, "totals": plan.totals, "cycles": cyc, "notes": plan.notes, "seq_len": T,
           "sim_layers": sim_layers, "no_golden": no_golden,
           "saturations": _saturations(vals, sat if vals is not None else None, sim_layers, g.layers, T),
           "seconds": {"capture": t_capture, "parameters": t_params, "golden": t_golden,
                       "total": time.perf_counter() - t0}}
    return _save(ctx, "emit", res, rec["state"])


@stage("lint", after="emit", result_file="hw/lint.json", needs=("emit",), deps=("emit",), weight=60)
def lint_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.eda.runner import EdaError
    from mase.eda import verilator

    man = _manifest(ctx)
    try:
        res = verilator.lint(ctx.out_dir / HW_DIR, man["core"], ctx.out_dir / BUILD_DIR / "lint")
    except EdaError as exc:
        raise _tool_error(exc, f"lint of {man['core']}") from None
    res["scope"] = _scope(man)
    log.info("lint clean (%s): %s", res["scope"], res["tool"])
    return _save(ctx, "lint", res, _state(man))


@stage("sim", after="lint", result_file="hw/sim.json", needs=("emit",), deps=("lint",), weight=500)
def sim_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.eda.runner import EdaError
    from mase.eda import verilator

    folder = SIM_DIR if (ctx.out_dir / SIM_DIR / "manifest.json").is_file() else HW_DIR
    man = _manifest(ctx, folder)
    hw_dir = ctx.out_dir / folder
    if not (hw_dir / "stim").is_dir():
        reason = (ctx.result("emit") or {}).get("no_golden")
        if reason:  # the golden model cannot run this config yet: nothing to compare with, analytical figures
            log.warning("sim skipped: no golden stimulus (%s)", reason)
            return _save(ctx, "sim", {"skipped": f"no golden stimulus: {reason}"}, _state(man))
        raise MaseError("the library was emitted without golden stimulus (hw.golden=false): re-run emit")
    t0 = time.perf_counter()
    import shutil

    shutil.rmtree(ctx.out_dir / "sim", ignore_errors=True)  # no outputs of an earlier simulation left to read
    try:
        wr = verilator.build(hw_dir, man["core"], ctx.out_dir / BUILD_DIR / f"sim_{folder}")
        t_build = time.perf_counter() - t0
        cases = ((1, 0, 0), (int(hw_get(ctx, "sim_seed", 2)), int(hw_get(ctx, "sim_stall", 30)),
                             int(hw_get(ctx, "sim_bp", 30))))

        def one(case: tuple[int, int, int]) -> dict:
            seed, stall, bp = case
            return verilator.run(wr, hw_dir / "stim", ctx.out_dir / "sim" / f"seed{seed}_s{stall}_b{bp}", man,
                                 seed=seed, stall=stall, bp=bp)

        runs = _side_by_side(ctx, one, cases)
    except EdaError as exc:
        raise _tool_error(exc, f"simulation of {man['core']}") from None
    t_run = time.perf_counter() - t0 - t_build
    bad = {r["log"]: {k: v for k, v in r["mismatches"].items() if v} for r in runs if not r["passed"]}
    res = {"scope": _scope(man), "library": folder, "bit_exact": not bad,
           "nodes": f"{man['nodes_mapped']}/{man['nodes_total']}", "runs": runs, "seconds": {"build": t_build, "run": t_run}}
    res["performance"] = _sim_performance(ctx, man, runs[0])
    _save(ctx, "sim", res, _state(man))
    if bad:
        raise MaseError(f"simulation differs from the golden model: {json.dumps(bad)}")
    log.info("simulation bit-exact against the golden model (%s; %d output ports; %d cycles without stalls)",
             res["scope"], len(man["outputs"]), runs[0]["cycles"])
    return res


@stage("generate", after="sim", result_file="hw/generate.json", deps=("sim",), weight=500)
def generate_stage(ctx: RunContext) -> dict[str, Any]:
    """Greedy generation on the KV-cache decode design (mase.compiler.generate): hw.generate_tokens
    tokens after the hw.prompt_tokens tokens of hw.prompt, in Verilator and in the golden, software and
    float models; writes hw/generate.json and the decode design's library hw_decode/."""
    from mase.compiler.generate import generate
    from mase.compiler.preflight import check_prompt_length
    from mase.eda.runner import EdaError

    ctx.ensure_model()
    cfg = ctx.cfg
    P, n = int(hw_get(ctx, "prompt_tokens", 8)), int(hw_get(ctx, "generate_tokens", 16))
    check_prompt_length(ctx.model, P + n, cfg.model.name)
    rec = record(cfg, "generate", quantized=ctx.quantized)
    stall = (int(hw_get(ctx, "sim_seed", 2)), int(hw_get(ctx, "sim_stall", 30)), int(hw_get(ctx, "sim_bp", 30)))
    try:
        res = generate(ctx.model, ctx.tokenizer, cfg.quant, cfg.target, resolved_hw(ctx)[0], ctx.out_dir,
                       _prompt_ids(ctx, P).tolist(), n, mase.__version__, rec["hash"], cfg.model.name, stall)
    except EdaError as exc:
        raise _tool_error(exc, "simulation of the decode design") from None
    _save(ctx, "generate", res, rec["state"])
    if not res["bit_exact"] or not res["match"]:
        raise MaseError(f"the decode design differs from the golden model: tokens {res['tokens_hw']} vs "
                        f"{res['tokens_golden']}, mismatching beats {res['mismatches']} (hw/generate.json)")
    log.info("generated %d tokens in Verilator, identical to the golden model's%s: %r", n,
             "" if res["match_sw"] else " (the prefill-numerics software model's differ)", res["text"])
    log.info("decode: %.0f cycles per generated token at %d tokens of context (analytical %.0f, %+.1f%%)",
             res["cycles_per_token"] or 0, res["context"], res["analytical_cycles_per_token"] or 0,
             100 * (res["analytical_error"] or 0))
    return res


def _side_by_side(ctx: RunContext, fn, items) -> list:
    """[fn(item) for item in items], each in a thread (the tools run in single-threaded processes): as
    many at once as the run has free cores (ctx.cores(): one beside another stage of the run, e.g.
    synth, else two on two cores); the next starts when one ends or a core frees. An error or Ctrl-C
    ends the others' tools (mase.cancel) before it is raised."""
    from mase import cancel

    def failed(futs) -> None:
        for f in futs:
            if f.done() and f.exception() is not None:
                raise f.exception()

    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool:
        futs: list = []
        try:
            for item in items:
                while True:
                    running = [f for f in futs if not f.done()]
                    if not running or len(running) < ctx.cores():
                        break
                    wait(running, timeout=5, return_when=FIRST_COMPLETED)
                    failed(futs)
                futs.append(pool.submit(fn, item))
            wait(futs, return_when=FIRST_EXCEPTION)
            failed(futs)
            return [f.result() for f in futs]
        except BaseException:  # the tools of the other items run in their own process groups
            cancel.cancel()
            raise


def _scope(man: dict) -> str:
    what = f"decoder layers 0-{man['layers'] - 1}" if man.get("subset") else "whole model"
    return what if man["complete"] else f"{what}: {man['nodes_mapped']} of {man['nodes_total']} nodes"


def _sim_performance(ctx: RunContext, man: dict, run: dict) -> dict[str, Any]:
    """Cycles per token from the simulation, against the ideal (work / lanes) of the simulated nodes."""
    emit = ctx.result("emit") or {}
    T = emit.get("seq_len", 8)
    folder = run["log"] and (SIM_DIR if (ctx.out_dir / SIM_DIR / "params.json").is_file() else HW_DIR)
    plan = json.loads((ctx.out_dir / folder / "params.json").read_text())["plan"]
    mapped = json.loads((ctx.out_dir / folder / "params.json").read_text())["nodes"]
    ii = max((plan["nodes"][n]["cycles_per_token"] for n in mapped), default=0)
    firsts = [c["first"] for c in run["checks"].values() if c["first"] >= 0]
    lasts = [c["last"] for c in run["checks"].values() if c["last"] >= 0]
    total = max(lasts) - min(run["input_first"].values() or [0]) + 1 if lasts else run["cycles"]
    # token-to-token interval at the slowest output (steady state): the span from the first to the
    # last beat of a port covers T - 1 intervals plus the last token's own burst of beats
    per_token = 0.0
    for port, c in run["checks"].items():
        burst = c["beats"] / T
        per_token = max(per_token, (c["last"] - c["first"] + 1 - burst) / max(1, T - 1))
    return {"source": "simulation", "ii_ideal": ii, "cycles_total": total, "cycles_per_token_total": total / T,
            "cycles_per_token_steady": per_token, "efficiency_steady": (ii / per_token) if per_token else None,
            "efficiency_total": (T * ii / total) if total else None, "first_output": min(firsts) if firsts else None}


@stage("synth", after="sim", result_file="hw/synth.json", needs=("emit",), deps=("emit",), weight=700)
def synth_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.eda import yosys

    t = ctx.cfg.target
    man = _manifest(ctx)
    res = yosys.synth_stage(ctx.out_dir / HW_DIR, man, t, ctx.out_dir / BUILD_DIR / "synth",
                            scope=str(hw_get(ctx, "synth_scope", "auto")))
    if res.get("skipped"):
        log.info("synth: %s", res["skipped"])
    return _save(ctx, "synth", res, _state(man))


@stage("pnr", after="synth", result_file="hw/pnr.json", reads=("synth",), needs=("emit",), deps=("synth",),
       weight=1000)
def pnr_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.eda import nextpnr, vivado

    t = ctx.cfg.target
    man = _manifest(ctx)
    if t.kind == "sim":
        res = {"skipped": "target sim: no place and route"}
    elif "vivado" in list(t.toolchain):
        res = vivado.project(ctx.out_dir / HW_DIR, man, ctx.out_dir / BUILD_DIR / "vivado")
    else:
        res = nextpnr.pnr_stage(ctx.out_dir / HW_DIR, man, t, ctx.out_dir / BUILD_DIR / "pnr",
                                scope=str(hw_get(ctx, "pnr_scope", "auto")), synth=ctx.result("synth"))
    log.info("pnr: %s", res.get("skipped") or res.get("summary", ""))
    return _save(ctx, "pnr", res, _state(man))


@stage("hw_report", after="report", result_file="hw/hw_report.json", reads=("lint", "sim", "synth", "pnr", "report"),
       needs=("emit",))
def hw_report_stage(ctx: RunContext) -> dict[str, Any]:
    from mase.compiler.report import build_hw_report, hw_table
    from mase.provenance import quant_label
    from mase.report import write_json

    rep = _save(ctx, "hw_report", build_hw_report(ctx), _state(ctx.result("emit")))
    ctx.console.print(hw_table([rep], f"hardware ({ctx.out_dir})"))
    # report.json: this config's accuracy report (checked) plus the hardware section; without a report
    # stage, the names of what was built and the hardware section only
    t = ctx.cfg.target
    full = dict(ctx.result("report") or {}) or {"model": ctx.cfg.model.name, "quant": quant_label(ctx.cfg.quant),
                                    "quant_preset": str(ctx.cfg.quant.name),
                                    "target": {"name": t.name, "kind": t.kind, "part": t.part, "clock_mhz": t.clock_mhz}}
    full["hardware"] = rep
    write_json(ctx.out_dir / "report.json", full)
    return rep
