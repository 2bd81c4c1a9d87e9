"""Semantic checks that the dataclass types cannot express. Each failure is one MaseError line."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mase.formats import BLOCK_SIZES, get_format

from mase.errors import MaseError
from .schema import NONLINEAR_OPS

MODEL_SOURCES = ("hf", "gguf", "tiny")
MODEL_FAMILIES = ("llama", "opt", "gpt2", "gemma3", "auto")
DATASETS = ("auto", "wikitext2", "lee", "enwiki")
TASKS = ("polarity",)  # zero-shot tasks of mase.evaluate.task
# nonlinear modes: "float" (the model's own op) or "hw" (the hardware-exact golden model,
# mase.golden.nonlinear_patch.apply_hw_nonlinear, wired in mase.quantize.quantizer.apply_nonlinear).
NONLINEAR_MODES = ("float", "hw")
TARGET_KINDS = ("sim", "fpga")
NUMERICS = ("auto", "quantized", "hardware", "decode")
WEIGHT_ROUNDINGS = ("nearest", "gptq")  # mase.quantize.gptq
GPTQ_CALIBRATION = ("lee_test", "after_eval")
ACT_SCALINGS = ("none", "awq")  # mase.quantize.act_scaling
ROTATIONS = ("none", "hadamard", "random")  # mase.quantize.rotation
SYNTH_SCOPES = ("auto", "top", "nodes")  # mase.eda.yosys
PNR_SCOPES = ("auto", "design", "nodes")  # mase.eda.nextpnr
WEIGHT_PLACES = ("auto", "bram", "uram", "spram", "axi")  # mase.compiler.params._place_weights
WEIGHT_MODES = ("auto", "onchip", "offchip")  # hw.weights: the architecture's weight memory
LANES = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # mase.compiler.params.LANE_CHOICES
MAX_FIFO = 1 << 16
MAX_CLOCK_MHZ = 2000.0  # no FPGA fabric clocks anywhere near this: a larger value is a unit mistake
# mixed-precision search (mase.search): objectives read from report.json, and from the analytical hardware model
SEARCH_REPORT_OBJECTIVES = ("ppl", "delta_ppl_pct", "avg_weight_bits", "avg_act_bits", "weight_memory_mb")
SEARCH_HW_OBJECTIVES = ("energy_per_token", "lut", "onchip_weight_mb")
SEARCH_GRANULARITIES = ("layer", "type", "type_group")
# stages whose tools run GNU Make in the run folder, which refuses paths with spaces (verilated.mk)
MAKE_STAGES = ("sim",)


def _int_range(value: Any, key: str, lo: int, hi: int | None = None, note: str = "") -> int:
    """value as an int in [lo, hi]; else one line naming the range."""
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise MaseError(f"{key}={v}: must be {rng}{note}")
    return v


def _positive(value: Any, key: str, hi: float | None = None, zero_ok: bool = False, note: str = "") -> float:
    """A finite number > 0 (>= 0 with zero_ok), at most hi."""
    v = float(value)
    low_ok = v >= 0 if zero_ok else v > 0
    if not (math.isfinite(v) and low_ok and (hi is None or v <= hi)):
        rng = ("at least 0" if zero_ok else "greater than 0") + (f" and at most {hi:g}" if hi is not None else "")
        raise MaseError(f"{key}={value}: must be {rng}{note}")
    return v


def _choice(value: Any, key: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise MaseError(f"{key}={value!r}: choose one of {', '.join(choices)}")


def check_format(name: Any, where: str, block_size: int = 32):
    try:
        return get_format(name, block_size=block_size)
    except ValueError as exc:
        raise MaseError(f"{where}: {exc}") from None


def validate_quant(q: Any) -> None:
    from mase.quantize.kernels import LINEAR_KERNELS

    if q.mode not in LINEAR_KERNELS:
        raise MaseError(f"quant.mode={q.mode!r} is not a registered kernel: choose one of {', '.join(LINEAR_KERNELS)}")
    if q.block_size not in BLOCK_SIZES:
        raise MaseError(f"quant.block_size={q.block_size}: choose one of {', '.join(map(str, BLOCK_SIZES))}")
    for field in ("weight", "act", "bias"):
        check_format(q.default[field], f"quant.default.{field}", q.block_size)
    for field in ("query", "key", "scores", "value"):
        if q.attention[field] is not None:
            check_format(q.attention[field], f"quant.attention.{field}", q.block_size)
    for pattern, ov in q.overrides.items():
        bs = ov.block_size if ov.block_size is not None else q.block_size
        if bs not in BLOCK_SIZES:
            raise MaseError(f"quant.overrides[{pattern!r}].block_size={bs}: choose one of {', '.join(map(str, BLOCK_SIZES))}")
        for field in ("weight", "act", "bias", "query", "key", "scores", "value"):
            if ov[field] is not None:
                check_format(ov[field], f"quant.overrides[{pattern!r}].{field}", bs)
    _int_range(getattr(q, "calibration_tokens", 512), "quant.calibration_tokens", 2)
    validate_rounding(q)
    for op, mode in q.nonlinear.items():
        if op not in NONLINEAR_OPS:
            raise MaseError(f"quant.nonlinear.{op}: unknown operator; valid operators: {', '.join(NONLINEAR_OPS)}")
        if mode not in NONLINEAR_MODES:
            raise MaseError(f"quant.nonlinear.{op}={mode!r} is not supported: use 'float' or 'hw'")


def validate_rounding(q: Any) -> None:
    """quant.weight_rounding and quant.gptq (mase.quantize.gptq)."""
    _choice(getattr(q, "weight_rounding", "nearest"), "quant.weight_rounding", WEIGHT_ROUNDINGS)
    _choice(getattr(q, "act_scaling", "none"), "quant.act_scaling", ACT_SCALINGS)
    _choice(getattr(q, "rotation", "none"), "quant.rotation", ROTATIONS)
    _int_range(getattr(q, "rotation_seed", 0), "quant.rotation_seed", 0)
    _int_range(getattr(q, "rotation_keep", 0), "quant.rotation_keep", 0, 64)
    _int_range(getattr(q, "rotation_block", 0), "quant.rotation_block", 0)
    g = getattr(q, "gptq", None)
    if g is None:
        return
    _choice(g.calibration, "quant.gptq.calibration", GPTQ_CALIBRATION)
    _int_range(g.tokens, "quant.gptq.tokens", 0, note=" (0: the whole calibration text)")
    if 0 < g.tokens < 2:
        raise MaseError(f"quant.gptq.tokens={g.tokens}: calibration needs at least 2 tokens (0: the whole text)")
    _positive(g.damp, "quant.gptq.damp", hi=10.0)
    _choice(g.scale_from, "quant.gptq.scale_from", ("updated", "original"))
    _positive(g.sink_weight, "quant.gptq.sink_weight", hi=1e6, zero_ok=True)
    _positive(g.get("asym", 0.0), "quant.gptq.asym", hi=1.0, zero_ok=True)
    _positive(g.get("asym_damp", 0.1), "quant.gptq.asym_damp", hi=1e6)


def validate_model(m: Any) -> None:
    if m.source not in MODEL_SOURCES:
        raise MaseError(f"model.source={m.source!r}: choose one of {', '.join(MODEL_SOURCES)}")
    if m.family not in MODEL_FAMILIES:
        raise MaseError(f"model.family={m.family!r}: choose one of {', '.join(MODEL_FAMILIES)}")
    if m.source == "hf" and not m.hf_id:
        raise MaseError("model.hf_id is empty: give a Hugging Face id, e.g. +model=hf model.hf_id=facebook/opt-125m")
    if m.source == "hf" and (folder := local_folder(str(m.hf_id))) is not None:
        check_local_folder(str(m.hf_id), folder)  # a missing local folder is named before any work
    if m.source == "gguf" and not (m.gguf_package and m.gguf_file):
        raise MaseError(f"model {m.name}: source=gguf needs model.gguf_package and model.gguf_file")
    if m.source == "tiny" and m.family not in ("llama", "opt"):
        raise MaseError(f"model {m.name}: tiny models exist for family llama or opt, not {m.family!r}")
    if m.source == "tiny":
        validate_tiny(m.tiny, m.family)


def validate_tiny(t: Any, family: str) -> None:
    """The random-init shape, before transformers sees it (its own checks raise tracebacks)."""
    k = "model.tiny."
    for name in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_positions"):
        _int_range(getattr(t, name), k + name, 1)
    # the byte-level tokenizer's ids run to 255
    _int_range(t.vocab_size, k + "vocab_size", 256, note=" (the tiny models' tokenizer is byte-level)")
    _int_range(t.seed, k + "seed", 0)
    h, heads = int(t.hidden_size), int(t.num_heads)
    head_dim = getattr(t, "head_dim", None) if family == "llama" else None
    if head_dim is not None:
        _int_range(head_dim, k + "head_dim", 2)
    elif h % heads:
        fix = " or give model.tiny.head_dim" if family == "llama" else ""
        raise MaseError(f"{k}hidden_size={h} is not a multiple of num_heads={heads}: choose sizes that divide{fix}")
    if family == "llama":
        kv = _int_range(t.num_kv_heads, k + "num_kv_heads", 1)
        if heads % kv:
            raise MaseError(f"{k}num_kv_heads={kv} must divide num_heads={heads} (grouped-query attention)")
        if (head_dim or h // heads) % 2:
            raise MaseError(f"{k}head_dim={head_dim or h // heads} is odd; RoPE rotates pairs: use an even head_dim")
        _positive(t.rope_theta, k + "rope_theta")
        if getattr(t, "rope_scaling", None) is not None:
            _check_rope_scaling(t, head_dim or h // heads)
    if not math.isfinite(float(t.norm_gain)):
        raise MaseError(f"{k}norm_gain={t.norm_gain}: must be a finite number")


def _check_rope_scaling(t: Any, head_dim: int) -> None:
    """transformers' RoPE variants: a known rope_type with its keys (its own errors are tracebacks)."""
    plain = to_container(t.rope_scaling)
    kind = plain.get("rope_type", plain.get("type")) if isinstance(plain, dict) else None
    key = f"model.tiny.rope_scaling={plain}"
    if kind is None:
        raise MaseError(f"{key}: give a mapping with rope_type, e.g. '{{rope_type: linear, factor: 2.0}}'")
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    if kind not in ROPE_INIT_FUNCTIONS:
        raise MaseError(f"{key}: rope_type {kind!r} is unknown; choose one of {', '.join(sorted(ROPE_INIT_FUNCTIONS))}")
    factor = plain.get("factor", 1.0)
    if not isinstance(factor, (int, float)) or not 1 <= factor < math.inf:  # transformers only warns
        raise MaseError(f"model.tiny.rope_scaling.factor={factor}: must be a number, at least 1")
    try:
        LlamaConfig(hidden_size=int(t.hidden_size), num_attention_heads=int(t.num_heads), head_dim=head_dim,
                    num_key_value_heads=int(t.num_kv_heads), max_position_embeddings=int(t.max_positions),
                    rope_theta=float(t.rope_theta), rope_scaling=dict(plain))
    except Exception as exc:  # missing keys of the variant (KeyError), bad values (ValueError)
        raise MaseError(f"{key}: {str(exc).strip(chr(34))}") from None


def local_folder(hf_id: str) -> Path | None:
    """`hf_id` as a local folder: an existing one, or a path no hub id looks like (/, ., ~, two slashes)."""
    path = Path(hf_id).expanduser()
    pathlike = hf_id.startswith(("/", ".", "~")) or hf_id.count("/") > 1 or (os.sep != "/" and os.sep in hf_id)
    return path if path.is_dir() or pathlike else None


def check_local_folder(hf_id: str, folder: Path) -> None:
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise MaseError(f"model.hf_id={hf_id}: {what}; give a folder saved with save_pretrained, or a hub id ORG/NAME")


def validate_eval(e: Any) -> None:
    if e.dataset not in DATASETS:
        raise MaseError(f"eval.dataset={e.dataset!r}: choose one of {', '.join(DATASETS)}")
    if e.window < 2:
        raise MaseError(f"eval.window={e.window}: must be at least 2 tokens")
    if not 1 <= e.stride <= e.window:
        raise MaseError(f"eval.stride={e.stride}: must be between 1 and eval.window={e.window}")
    if e.tokens < 1:
        raise MaseError(f"eval.tokens={e.tokens}: must be positive")
    _int_range(getattr(e, "hardware_tokens", 0), "eval.hardware_tokens", 0, note=" (0: all of eval.tokens)")
    _choice(getattr(e, "numerics", "auto"), "eval.numerics", NUMERICS)
    extra = list(getattr(e, "extra_datasets", None) or [])
    for d in extra:
        if d not in DATASETS:
            raise MaseError(f"eval.extra_datasets: {d!r} is not a text; choose among {', '.join(DATASETS)}")
    if len(set(extra) | {e.dataset}) != len(extra) + 1:
        raise MaseError(f"eval.extra_datasets={extra} repeats a text (eval.dataset={e.dataset} is measured anyway)")
    if getattr(e, "task", None) is not None:
        validate_task(e.task)


def validate_task(t: Any) -> None:
    """eval.task (mase.evaluate.task): a known task, a prompt with {text}, two or more distinct label words."""
    _choice(t.name, "eval.task.name", TASKS)
    if "{text}" not in str(t.prompt):
        raise MaseError(f"eval.task.prompt={str(t.prompt)!r} has no {{text}}: mark where the example goes")
    words = [str(w).strip() for w in (t.labels or {}).values()]
    if len(words) < 2 or len(set(words)) != len(words) or not all(words):
        raise MaseError(f"eval.task.labels={dict(t.labels or {})}: give each label its own non-empty word "
                        f"(e.g. {{pos: positive, neg: negative}})")
    _int_range(t.examples, "eval.task.examples", 0, note=" (0: all)")


def validate_stages(stages: list[str]) -> None:
    from mase.pipeline import STAGES

    if not stages:
        raise MaseError(f"stages=[] runs nothing: name the stages to run (in order: {', '.join(STAGES)})")
    for s in stages:
        if s not in STAGES:
            raise MaseError(f"stages: unknown stage {s!r}; available stages in order: {', '.join(STAGES)}")
    if len(set(stages)) != len(stages):
        raise MaseError(f"stages={list(stages)}: a stage is listed twice")


def validate_hw(hw: Any, m: Any) -> None:
    """Every hw.* value (mase.compiler): ranges known from the config alone (the context of a
    pretrained model is checked once it is loaded, mase.compiler.preflight.check_prompt_length)."""
    from mase.eda.mx_linear import FORMAT_PARAMS

    tiny = m.tiny if m.source == "tiny" else None
    limit = int(tiny.max_positions) if tiny is not None else None
    _int_range(hw.prompt_tokens, "hw.prompt_tokens", 1, limit, " (the model's context)" if limit else "")
    if hw.prompt is not None and not str(hw.prompt):
        raise MaseError("hw.prompt is empty: give a text, or drop it for the default sentence")
    _int_range(hw.max_lanes, "hw.max_lanes", 1, note=" (parallel MACs of one node)")
    _positive(hw.utilization, "hw.utilization", 100.0,
              note=" (fraction of the part the compiler may fill; above 1 emits a design larger than the part)")
    _int_range(hw.fifo_depth, "hw.fifo_depth", 1, MAX_FIFO, " (beats; rounded up to a power of two)")
    _choice(str(hw.linear_out), "hw.linear_out", tuple(FORMAT_PARAMS))  # a format the cores compute
    layers = int(tiny.num_layers) if tiny is not None else None
    _int_range(hw.sim_layers, "hw.sim_layers", 0, layers, " decoder layers (0: all up to 4, else 1)")
    _int_range(hw.sim_seed, "hw.sim_seed", 0)
    _int_range(hw.sim_stall, "hw.sim_stall", 0, 99, " (percent of idle input cycles)")
    _int_range(hw.sim_bp, "hw.sim_bp", 0, 99, " (percent of back-pressure cycles)")
    _int_range(hw.decode_context, "hw.decode_context", 0, limit, " tokens (0: hw.prompt_tokens)")
    _int_range(hw.generate_tokens, "hw.generate_tokens", 1, limit, " tokens (greedy, after the prompt)")
    _choice(hw.synth_scope, "hw.synth_scope", SYNTH_SCOPES)
    _choice(hw.pnr_scope, "hw.pnr_scope", PNR_SCOPES)
    _choice(str(hw.get("weights", "auto")), "hw.weights", WEIGHT_MODES)
    _choice(str(hw.get("kv_cache", "auto")), "hw.kv_cache", ("auto", "onchip", "offchip"))
    _choice(str(hw.get("attention", "block")), "hw.attention", ("block", "causal"))
    bus = hw.get("bus_bits", 0)
    if bus is None or (bus != 0 and (not 8 <= bus <= 8192 or bus % 8)):
        raise MaseError(f"hw.bus_bits={bus}: give a whole number of bytes, 8 to 8192 bits (0: the target's off-chip bus)")
    dma = hw.get("dma_fifo_words", 0)
    if dma is None or not 0 <= dma <= 1 << 20:
        raise MaseError(f"hw.dma_fifo_words={dma}: give 0 (the default DMA buffer) or 1 to 1048576 bus words a channel")
    _names(hw)
    _fold(hw, layers)
    for pattern, ov in (hw.overrides or {}).items():
        where = f"hw.overrides[{pattern!r}]"
        if not OmegaConf.is_dict(ov) and not isinstance(ov, dict):
            raise MaseError(f"{where}={ov!r}: give a mapping of in_par, out_par, par, fifo_depth, weights")
        for key in ("in_par", "out_par", "par"):
            if ov.get(key) is not None and ov[key] not in LANES:
                raise MaseError(f"{where}.{key}={ov[key]}: choose one of {', '.join(map(str, LANES))}")
        d = ov.get("fifo_depth")
        if d is not None and (d < 2 or d > MAX_FIFO or d & (d - 1)):
            raise MaseError(f"{where}.fifo_depth={d}: must be a power of two between 2 and {MAX_FIFO} (beats)")
        if ov.get("weights") is not None:
            _choice(ov.weights, f"{where}.weights", WEIGHT_PLACES)


def _fold(hw: Any, layers: int | None = None) -> None:
    """hw.fold: 0 (fully spatial), N >= 1 hardware decoder layers reused (their weights streamed layer by
    layer; that N divides the model's layers is checked once the model is known, mase.compiler.params)
    or auto (the largest N that fits the target, chosen with it; weights pinned on chip keep it spatial)."""
    name = hw.get("fold", 0)
    auto = name == "auto"
    fold = 0 if auto else name
    if not auto and (not isinstance(fold, int) or isinstance(fold, bool) or fold < 0):
        raise MaseError(f"hw.fold={fold!r}: choose 0 (a hardware decoder layer per layer), N >= 1 (N hardware "
                        f"decoder layers reused for all layers, N dividing the model's layers) or auto")
    if not auto and fold and layers and (fold > layers or layers % fold):  # a tiny model's layers are known here
        divs = ", ".join(str(d) for d in range(1, layers + 1) if layers % d == 0)
        raise MaseError(f"hw.fold={fold} does not divide the model's {layers} decoder layers: choose one of {divs}, or 0")
    if fold and str(hw.get("weights", "auto")) == "onchip":
        raise MaseError(f"hw.fold={name} streams every layer's weights from off-chip memory: use hw.weights=offchip "
                        "(or auto), or hw.fold=0 to keep the weights on chip")
    if fold:
        for pattern, ov in (hw.overrides or {}).items():
            if ov.get("weights") not in (None, "axi", "auto"):
                raise MaseError(f"hw.overrides[{pattern!r}].weights={ov.weights}: with hw.fold={name} every linear "
                                f"layer's weights are streamed (axi); drop it or use hw.fold=0")


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VLNV = re.compile(r"[\w.-]+:[\w.-]+:[\w.-]+:\d[\w.-]*")


def _names(hw: Any) -> None:
    """hw.top is a module name (not one of the library's or the generated helpers'); hw.vlnv a full
    FuseSoC vendor:library:name:version."""
    top = str(hw.top)
    if not IDENTIFIER.fullmatch(top):
        raise MaseError(f"hw.top={top!r}: give a SystemVerilog module name (letters, digits, _; e.g. accel_a)")
    if top.startswith(("mx_", "mase_")) and top != "mase_top":
        raise MaseError(f"hw.top={top}: the prefixes mx_ and mase_ name the library's modules: choose another name")
    if hw.vlnv is not None and not VLNV.fullmatch(str(hw.vlnv)):
        raise MaseError(f"hw.vlnv={hw.vlnv!r}: give vendor:library:name:version, e.g. acme:accel:{top}:1.0.0")


def validate_target(t: Any) -> None:
    _choice(t.kind, "target.kind", TARGET_KINDS)
    _positive(t.clock_mhz, "target.clock_mhz", MAX_CLOCK_MHZ, note=" (MHz)")
    for key, v in (t.resources or {}).items():
        if v is not None:
            _int_range(v, f"target.resources.{key}", 1 if key == "bram_kbit" else 0)
    for key in ("offchip_memory_gb", "offchip_bandwidth_gbps"):
        if t.get(key) is not None:
            _positive(t[key], f"target.{key}", zero_ok=True, note=" (null: no off-chip memory)")
    if t.get("offchip_bus_bits") is not None and (not 8 <= t.offchip_bus_bits <= 8192 or t.offchip_bus_bits % 8):
        raise MaseError(f"target.offchip_bus_bits={t.offchip_bus_bits}: give a whole number of bytes, 8 to 8192 bits")
    if t.get("offchip_latency_ns") is not None:
        _positive(t.offchip_latency_ns, "target.offchip_latency_ns", 1e6, note=" (ns)")


def validate_search(s: Any) -> None:
    """search.*: objectives, space, budget (mase.search); the slots are checked against the model later."""
    known = SEARCH_REPORT_OBJECTIVES + SEARCH_HW_OBJECTIVES
    objectives = list(s.objectives)
    if not objectives:
        raise MaseError(f"search.objectives=[]: name at least one of {', '.join(known)}")
    for o in objectives:
        _choice(o, "search.objectives", known)
    if len(set(objectives)) != len(objectives):
        raise MaseError(f"search.objectives={objectives}: an objective is listed twice")
    _choice(s.granularity, "search.granularity", SEARCH_GRANULARITIES)
    _int_range(s.groups, "search.groups", 1, note=" (groups of decoder layers, granularity type_group)")
    if not s.formats or not s.block_sizes:
        raise MaseError("search.formats and search.block_sizes must each name at least one value")
    for b in s.block_sizes:
        if b not in BLOCK_SIZES:
            raise MaseError(f"search.block_sizes: {b}: choose among {', '.join(map(str, BLOCK_SIZES))}")
    for f in s.formats:
        check_format(f, "search.formats", int(s.block_sizes[0]))
    for where, choice in [("search.high", s.high)] + [(f"search.pick.{k}", v) for k, v in (s.pick or {}).items()]:
        fmt, sep, block = str(choice).rpartition("_b")
        if not sep or not block.isdigit() or int(block) not in BLOCK_SIZES:
            raise MaseError(f"{where}={choice}: spell a choice FORMAT_bBLOCK, e.g. mxint4_b32 (blocks: "
                            f"{', '.join(map(str, BLOCK_SIZES))})")
        check_format(fmt, where, int(block))
    if s.budget is not None:
        _positive(s.budget, "search.budget", note=" (average weight bits, scale overhead included)")
    if not math.isfinite(float(s.penalty)):
        raise MaseError(f"search.penalty={s.penalty}: must be a finite number")
    _positive(s.target_delta_pct, "search.target_delta_pct", zero_ok=True, note=" (percent over float perplexity)")
    _int_range(s.sensitivity.tokens, "search.sensitivity.tokens", 2)
    _int_range(s.sensitivity.fisher_tokens, "search.sensitivity.fisher_tokens", 2)
    _int_range(s.sensitivity.seeds, "search.sensitivity.seeds", 0)
    _positive(s.sensitivity.gptq_max_bits, "search.sensitivity.gptq_max_bits", zero_ok=True,
              note=" (0: probe every choice with nearest rounding)")
    _choice(s.sensitivity.method, "search.sensitivity.method", ("auto", "kl", "fisher"))
    from .loading import available

    for ref in s.references:  # run after the sweep: a typo must not wait for the end of the search
        _choice(ref, "search.references", tuple(available("quant")))


def validate_run(cfg: Any) -> None:
    """Top-level values."""
    _int_range(cfg.seed, "seed", 0)
    _int_range(cfg.threads, "threads", 0, note=" (0: torch's default)")
    _int_range(cfg.get("jobs", 0), "jobs", 0, note=" stages at once (0: min(2, CPU cores); 1: one after the other)")
    for key in ("root", "multirun_root"):
        if not str(cfg.output[key]).strip():
            raise MaseError(f"output.{key} is empty: give a folder")


def check_output_dir(folder: str | Path, stages: list[str] = (), key: str = "hydra.run.dir") -> None:
    """The run folder can be created and written, and its path suits the stages' tools: refused in
    one line before Hydra creates it (Hydra's own errors are tracebacks) or any stage runs."""
    path = Path(folder).absolute()
    make = [s for s in stages if s in MAKE_STAGES]
    if make and any(c.isspace() for c in str(path)):
        raise MaseError(f"{key}={folder}: the {make[0]} stage builds with GNU Make, which cannot work in a folder "
                        "whose path has spaces: choose a folder without spaces")
    existing = path
    while not existing.exists() and existing != existing.parent:  # the deepest part that exists
        existing = existing.parent
    if not existing.is_dir():
        raise MaseError(f"{key}={folder}: {existing} is a file, not a folder: choose another {key}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MaseError(f"{key}={folder}: cannot write in {existing} (permission denied): choose a writable "
                        f"folder with {key}=...")


def validate_config(cfg: DictConfig) -> None:
    """All checks that need no model; raises MaseError."""
    if cfg.model is None:
        raise MaseError("no model chosen: add +model=NAME (run `mase` alone to list the models)")
    check_schema(cfg)
    validate_model(cfg.model)
    validate_quant(cfg.quant)
    if cfg.quant.get("rotation", "none") != "none" and cfg.model.family == "opt":
        raise MaseError("quant.rotation needs a LLaMA-family model (RMSNorm): OPT's LayerNorm subtracts the "
                        "mean, which a rotation does not keep; set quant.rotation=none")
    validate_eval(cfg.eval)
    validate_stages(list(cfg.stages))
    validate_target(cfg.target)
    validate_run(cfg)
    if cfg.get("hw") is not None:
        validate_hw(cfg.hw, cfg.model)
    if cfg.get("search") is not None:
        validate_search(cfg.search)
        if "delta_ppl_pct" in cfg.search.objectives and not cfg.eval.float_baseline:
            raise MaseError("search.objectives has delta_ppl_pct, which needs the float model scored too: "
                            "set eval.float_baseline=true, or use ppl")
    if cfg.model.source == "tiny" and cfg.eval.window > cfg.model.tiny.max_positions:
        raise MaseError(f"eval.window={cfg.eval.window}: must be at most model.tiny.max_positions="
                        f"{cfg.model.tiny.max_positions} (the model's context)")


def check_schema(cfg: DictConfig) -> None:
    """Re-merge onto the schema: catches keys added with `+group.key=...` that the schema lacks."""
    from .loading import one_line
    from .schema import MaseConfig

    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    try:
        OmegaConf.merge(OmegaConf.structured(MaseConfig), plain)
    except Exception as exc:
        raise MaseError(f"config error: {one_line(exc)}") from None


def to_container(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
