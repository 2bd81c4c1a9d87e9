"""Structured configs: the typed shape of everything `mase` reads from Hydra.

Every group (`model/`, `quant/`, `target/`, `eval/`) is validated against these dataclasses, so an
unknown key or a value of the wrong type is caught at composition time. Semantic checks that types
cannot express (format names, stage names, nonlinear modes) live in `mase.config.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

# Operators that later work may move into hardware-exact golden functions (mase/golden/nonlinear.py).
# Same names as mase.golden.nonlinear_patch.OPS (swiglu = the whole silu(gate) * up of a LLaMA MLP).
NONLINEAR_OPS = ("softmax", "rmsnorm", "layernorm", "silu", "gelu", "relu", "swiglu", "rope")


@dataclass
class TinyArch:
    """Random-init tiny model shape (fast tests); ignored for pretrained models."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2  # LLaMA only (grouped-query attention like SmolLM2)
    intermediate_size: int = 128
    vocab_size: int = 256  # byte-level tokenizer
    max_positions: int = 1024
    seed: int = 0
    # architecture variants for generated-configuration tests (LLaMA unless noted)
    head_dim: Optional[int] = None  # None: hidden_size / num_heads
    rope_theta: float = 10000.0
    # transformers' rope_scaling dict, e.g. {rope_type: linear, factor: 2}; typed Any: OmegaConf cannot merge
    # a command-line dict into a None Dict node, nor add keys to an empty one in struct mode
    rope_scaling: Any = None
    attention_bias: bool = False
    mlp_bias: bool = False
    norm_gain: float = 1.0  # scale of every norm's gain (random init gives 1.0; trained models reach 5-50)


@dataclass
class ModelConfig:
    name: str = MISSING  # short name used in folders and reports
    source: str = MISSING  # "hf" (hub id or local folder), "gguf" (packaged GGUF file), "tiny"
    family: str = MISSING  # "llama", "opt", "gpt2", "auto"
    hf_id: Optional[str] = None  # hub id or local path (source=hf)
    revision: Optional[str] = None
    gguf_package: Optional[str] = None  # Python package that ships the .gguf (source=gguf)
    gguf_file: Optional[str] = None
    license: Optional[str] = None
    tiny: TinyArch = field(default_factory=TinyArch)


@dataclass
class LayerOverride:
    """Per-layer formats, applied to modules whose name matches a glob pattern. None = inherit."""

    weight: Optional[str] = None
    act: Optional[str] = None
    bias: Optional[str] = None
    block_size: Optional[int] = None
    # attention modules only (the two matrix products)
    query: Optional[str] = None
    key: Optional[str] = None
    scores: Optional[str] = None
    value: Optional[str] = None


@dataclass
class LinearFormats:
    weight: str = "fp32"
    act: str = "fp32"
    bias: str = "fp32"


@dataclass
class AttentionFormats:
    """Operands of Q.K^T (query, key) and of scores.V (scores, value). None = the default act format."""

    enabled: bool = True
    query: Optional[str] = None
    key: Optional[str] = None
    scores: Optional[str] = None
    value: Optional[str] = None


@dataclass
class GPTQConfig:
    """quant.weight_rounding=gptq: error-compensating weight rounding (mase.quantize.gptq). The
    calibration text (calibration, tokens) is also that of quant.act_scaling."""

    # calibration text, never the evaluated one: lee_test = gensim's lee.cor (50 articles, none in
    # lee_background.cor); after_eval = the evaluation text after the scored tokens
    calibration: str = "lee_test"
    tokens: int = 0  # calibration tokens (0: all of lee.cor, about 6k; after_eval: quant.calibration_tokens)
    # added to the Hessian's diagonal, times its mean (which the attention-sink channel dominates, so
    # typical channels see far more): smollm2-135m W4A8 39.71 at 1e-4 against 40.40 at 0.01, and the
    # mixed4 search's 4.5-bit seed 35.94 against 36.44
    damp: float = 0.0001
    scale_from: str = "updated"  # each block's exponent from the weights as updated so far | original
    # smollm2-135m W4A8, 1024 lee tokens: 46.7 with neither, 42.8 exp_search, 41.2 act_order, 39.3 both
    exp_search: bool = True  # per block and row the better of exponents e and e-1
    act_order: bool = True  # blocks and their columns by decreasing Hessian diagonal
    # weight of each window's first token (the attention sink, whose values every later token reads) in
    # the Hessian: smollm2-135m W4A8 on 1024 lee tokens, 1 -> ppl 57.6, 0 -> 207.7, 128 -> 46.7 (nearest 49.8)
    sink_weight: float = 128.0
    skip: List[str] = field(default_factory=list)  # layer glob patterns kept at nearest rounding
    # within a decoder layer, each group of linears fed one input (q/k/v, o, gate/up, down) calibrated on
    # the outputs of the groups before it as already compensated (smollm2-135m W4A8, 4096 lee tokens: 40.63
    # against 40.40 without, so off by default)
    sequential: bool = False
    # asymmetric calibration (GPTAQ): GPTQ's target moves from the layer's own float-weight output on the
    # quantized inputs (0, classic GPTQ) towards the float model's output (1), so the rounding also corrects
    # the drift the layers before it left in its inputs. It does not help here (smollm2-135m W4A8, 4096 lee
    # tokens: 799 at asym 1, asym_damp 10, against 40.40 without), so off
    asym: float = 0.0
    asym_damp: float = 0.1  # the correction's damping, times the Hessian's median diagonal


@dataclass
class QuantConfig:
    name: str = MISSING
    mode: str = "fake"  # kernel used by quantized layers; "fake" = fake quantization in float32
    block_size: int = 32
    default: LinearFormats = field(default_factory=LinearFormats)
    attention: AttentionFormats = field(default_factory=AttentionFormats)
    exclude: List[str] = field(default_factory=lambda: ["lm_head"])  # glob patterns kept in float
    overrides: Dict[str, LayerOverride] = field(default_factory=dict)  # glob pattern -> formats
    nonlinear: Dict[str, str] = field(default_factory=lambda: {op: "float" for op in NONLINEAR_OPS})
    # fixed8: tokens of the evaluation text whose max |x| freezes each activation scale (mase.quantize.calibrate)
    calibration_tokens: int = 512
    weight_rounding: str = "nearest"  # nearest | gptq (quant.gptq)
    # none | awq: per-input-channel scales folded into the norm gain / linear before (same hardware),
    # calibrated on quant.gptq's calibration text (mase.quantize.act_scaling)
    act_scaling: str = "none"
    gptq: GPTQConfig = field(default_factory=GPTQConfig)
    # none | hadamard | random: an orthogonal rotation of the residual stream folded into the weights
    # before quantization (LLaMA family; mase.quantize.rotation); the seed draws its random part
    rotation: str = "none"
    rotation_seed: int = 0
    rotation_heads: bool = False  # also rotate each head's values (v_proj output / o_proj input side)
    # residual channels with the largest |h| on the calibration text (the attention sink's massive
    # activations) left out of the rotation: their weight columns stay on their own
    rotation_keep: int = 0
    rotation_block: int = 0  # 0: one rotation of the whole stream; k: block-diagonal, k x k blocks


# default stages of an FPGA target: accuracy, then build the accelerator (target sim: no synth, pnr)
FPGA_STAGES = ("quantize", "evaluate", "emit", "lint", "sim", "synth", "pnr", "report", "hw_report")


@dataclass
class Resources:
    lut: Optional[int] = None
    ff: Optional[int] = None
    dsp: Optional[int] = None
    bram: Optional[int] = None  # number of block RAMs
    bram_kbit: Optional[int] = None  # size of one block RAM
    uram: Optional[int] = None  # UltraRAM blocks (288 Kbit each)
    spram: Optional[int] = None  # iCE40 UltraPlus single-port RAMs (256 Kbit each)


@dataclass
class TargetConfig:
    name: str = MISSING
    kind: str = MISSING  # "sim" or "fpga"
    vendor: Optional[str] = None
    family: Optional[str] = None
    part: Optional[str] = None
    package: Optional[str] = None
    toolchain: List[str] = field(default_factory=list)
    clock_mhz: float = 100.0
    resources: Resources = field(default_factory=Resources)
    offchip_memory_gb: Optional[float] = None
    offchip_bandwidth_gbps: Optional[float] = None  # GB/s
    # the off-chip memory's read port at the design's clock (the simulation's memory model,
    # mase.compiler.params.memory_model): data bits a cycle (hw.bus_bits overrides) and read latency
    offchip_bus_bits: Optional[int] = None  # None: 512
    offchip_latency_ns: Optional[float] = None  # None: 100 ns
    notes: Optional[str] = None
    # extra nextpnr options after mase's own (mase.eda.nextpnr.nextpnr_options), e.g. [--router, router2]
    pnr_options: List[str] = field(default_factory=list)
    # the default `stages` of a run on this target (config.yaml: stages: ${target.stages})
    stages: List[str] = field(default_factory=lambda: list(FPGA_STAGES))


@dataclass
class TaskConfig:
    """Zero-shot task accuracy (mase.evaluate.task): each example's prompt is followed by every label's
    word, and the label whose word the model finds likeliest is its answer."""

    name: str = MISSING  # polarity (gensim's pang_lee_polarity.cor: 200 sentences, pos / neg)
    prompt: str = MISSING  # `{text}` is replaced by the example; the label word follows after one space
    labels: Dict[str, str] = field(default_factory=dict)  # dataset label -> word, e.g. pos: positive
    examples: int = 0  # the first N examples, alternating labels (0: all)
    # texts without content (e.g. ["N/A", "", "[MASK]"]): label scores relative to their mean score after
    # these texts (contextual calibration); null or []: off
    content_free: Optional[List[str]] = None


@dataclass
class EvalConfig:
    name: str = MISSING
    dataset: str = "auto"  # auto | wikitext2 | lee | enwiki
    tokens: int = 4096  # tokens whose loss is measured
    window: int = 512  # context length of one forward pass
    stride: int = 512  # new tokens scored per window (< window: overlapping sliding window)
    float_baseline: bool = True  # also evaluate the unquantized model on the same tokens
    # numerics=hardware scores the first hardware_tokens of them through the golden model (about 2 min
    # per 512 tokens of smollm2-135m on 2 cores), the quantized and float models on the same tokens
    hardware_tokens: int = 512
    # auto | quantized | hardware (the accelerator's golden model; auto: hardware when stages include emit)
    # | decode (the golden model in the KV-cache decode design's numerics: as if generated token by token)
    numerics: str = "auto"
    # more texts whose perplexity is measured the same way (e.g. [enwiki]): report.json ppl_datasets
    extra_datasets: List[str] = field(default_factory=list)
    task: Optional[TaskConfig] = None  # a zero-shot task scored besides perplexity (eval=polarity)


@dataclass
class OutputConfig:
    root: str = "outputs"  # single runs: <root>/<model>/<quant>/<time>
    multirun_root: str = "multirun"  # sweeps: <multirun_root>/<time>/<n>_<model>_<quant>_<target>


@dataclass
class HwOverride:
    """Hardware parameters of the graph nodes whose name matches a glob pattern (None = automatic)."""

    in_par: Optional[int] = None  # input lanes (linear: elements of x per cycle)
    out_par: Optional[int] = None  # output lanes (linear: output rows computed in parallel)
    par: Optional[int] = None  # lanes of an element-wise node
    fifo_depth: Optional[int] = None  # beats of every input FIFO
    weights: Optional[str] = None  # auto | bram | uram | spram | axi


@dataclass
class HwConfig:
    """The compiler (issue 6): prompt, parallelism limits, per-node overrides (mase.compiler)."""

    prompt_tokens: int = 8  # tokens of the prompt simulated (prefill) and sized for (K/V buffers)
    prompt: Optional[str] = None  # text of the test prompt (None: a fixed English sentence)
    max_lanes: int = 64  # most parallel MACs (or elements) one node may use per cycle
    utilization: float = 0.8  # fraction of the part's LUT/FF/DSP the compiler may fill
    fifo_depth: int = 4  # default FIFO depth in beats (deep FIFOs are sized automatically)
    linear_out: str = "mxint8"  # format of linear/matmul outputs that feed fixed-point cores
    golden: bool = True  # compute stimulus and expected outputs with the golden model
    sim_layers: int = 0  # decoder layers simulated (own library hw_sim/); 0 = all up to 4 layers, else 1
    sim_seed: int = 2  # the second simulation run uses random stalls and back-pressure
    sim_stall: int = 30
    sim_bp: int = 30
    decode_context: int = 0  # KV-cache tokens of the analytical decode figures; 0 = prompt_tokens
    generate_tokens: int = 16  # generate stage: greedy tokens after the prompt (hw.prompt, hw.prompt_tokens)
    synth_scope: str = "auto"  # auto | top | nodes
    pnr_scope: str = "auto"  # auto | design | nodes (per-node out of context); auto: design if it fits the part
    overrides: Dict[str, HwOverride] = field(default_factory=dict)
    # where every linear layer's weights live (mase.compiler.params._place_weights; hw.overrides win):
    # onchip (ROMs in BRAM / URAM / SPRAM, an error if they do not fit) | offchip (all streamed from
    # the target's off-chip memory, mx_linear W_SOURCE 1) | auto (on chip while they fit, the rest off chip)
    weights: str = "auto"
    # where the decode design (the generate stage) keeps its KV caches (mase.compiler.kv_offchip):
    # onchip (a bank per layer in block RAM, an error if they do not fit) | offchip (in the off-chip memory
    # of the streamed weights, written and read back every token on the same bus) | auto (on chip where
    # that plan fits the target, else off chip)
    kv_cache: str = "auto"
    # data bits a cycle of the off-chip memory bus streamed weights come over (the memory image's word;
    # 0: the target's offchip_bus_bits, else 512)
    bus_bits: int = 0
    # words (of the bus) each DMA channel feeding a streamed linear buffers on chip, in flight or read
    # ahead (mase.compiler.params.memory_model; counted in the plan's block RAM); 0: DMA_FIFO_WORDS (512)
    dma_fifo_words: int = 0
    # layer reuse (mase/compiler/README.md "Layer reuse"): 0 = fully spatial (a hardware decoder layer per
    # layer); N = N hardware decoder layers reused for all L layers (L / N passes, N dividing L, the
    # activations looped back through an on-chip buffer of the prompt, every linear's weights streamed from
    # off-chip memory layer after layer: implies hw.weights=offchip); 1 = one layer reused L times;
    # auto (default) = the most spatial design (largest N) that fits the target
    # (mase.compiler.params.choose_fold): spatial wherever it fits, each layer with its own formats
    fold: Any = "auto"
    # attention numerics of the prefill design (mase/golden/CONTRACT.md; mase/compiler/README.md "Prefill
    # across layers"): block = score rows and V blocked over the whole prompt | causal = row t from tokens
    # <= t only (the KV-cache datapath fed the prompt: the layers overlap token by token). eval.numerics
    # =hardware scores the same numerics
    attention: str = "block"
    top: str = "mase_top"  # module name of the generated top level (its testbench: tb_<top>)
    vlnv: Optional[str] = None  # FuseSoC name of the generated core; None: mase:gen:<top>:<mase version>


# candidate element formats and objectives of a mixed-precision search (mase.search)
SEARCH_FORMATS = ("mxint2", "mxint3", "mxint4", "mxint5", "mxint6", "mxint8", "mxfp4", "mxfp6", "mxfp8")


@dataclass
class SensitivityConfig:
    """The per-slot pass that seeds and prunes a search (mase.search.sensitivity)."""

    enabled: bool = True
    tokens: int = 128  # method=kl: calibration tokens, the ones right after the evaluated text (disjoint from it)
    # method=fisher: calibration tokens from the same place, one backward pass per eval.window of them
    fisher_tokens: int = 2048
    prune: bool = True  # drop a slot's choices that another choice beats on both bits and cost
    seeds: int = 3  # greedy configs from the sensitivity table run as the first trials
    # with quant.weight_rounding=gptq, choices of at most this many bits are probed with GPTQ rounding
    gptq_max_bits: float = 5.5
    # kl: one forward pass per slot and choice | fisher: a Fisher-weighted output error per layer, no
    # forward pass per probe (every granularity) | auto: kl up to 150 probes, else fisher
    method: str = "auto"


@dataclass
class SearchConfig:
    """A per-layer format search driven by a Hydra sweeper (conf/search/*.yaml, mase.search).

    `objectives` also decides what the task function returns to any sweeper (a float, or a tuple)."""

    name: Optional[str] = None  # None: no search space (objectives are still returned to a sweeper)
    objectives: List[str] = field(default_factory=lambda: ["ppl"])  # mase.search.trial.OBJECTIVES
    granularity: str = "type"  # layer | type | type_group (a layer type in one of `groups` decoder-layer groups)
    groups: int = 1
    formats: List[str] = field(default_factory=lambda: list(SEARCH_FORMATS))
    block_sizes: List[int] = field(default_factory=lambda: [16, 32])
    high: str = "mxint8_b32"  # the choice every other slot keeps in the sensitivity pass
    budget: Optional[float] = None  # most average weight bits (scale overhead included); over: penalty
    penalty: float = 1.0e6  # objective value of a trial over budget (not evaluated)
    # a trial over budget is lowered to it by the sensitivity table's greedy rule and run (else: penalty)
    repair: bool = True
    target_delta_pct: float = 10.0  # "reached" = ppl within this % of float, within budget (trials-to-target)
    references: List[str] = field(default_factory=list)  # quant presets run once as reference points
    sensitivity: SensitivityConfig = field(default_factory=SensitivityConfig)
    pick: Dict[str, str] = field(default_factory=dict)  # slot -> choice (e.g. mxint4_b32), set per trial


@dataclass
class MaseConfig:
    model: Optional[ModelConfig] = None  # chosen with +model=NAME
    quant: QuantConfig = MISSING
    target: TargetConfig = MISSING
    eval: EvalConfig = MISSING
    stages: List[str] = field(default_factory=lambda: ["quantize", "evaluate", "report"])
    output: OutputConfig = field(default_factory=OutputConfig)
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 = torch's default
    # stages run at once (mase.pipeline: independent stages side by side, e.g. evaluate and sim beside
    # synth -> pnr); 0 = min(2, CPU cores); 1 = one after the other, in the order of `stages`
    jobs: int = 0
    progress: bool = True  # rich progress bars
    extra: Dict[str, Any] = field(default_factory=dict)  # free-form notes recorded in the report
    hw: HwConfig = field(default_factory=HwConfig)  # the compiler's hardware choices (issue 6)
    search: SearchConfig = field(default_factory=SearchConfig)  # mixed-precision search (conf/search, issue 11)


def register_configs() -> None:
    """Register the schemas in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="mase_schema", node=MaseConfig)
    cs.store(group="model", name="model_schema", node=ModelConfig)
    cs.store(group="quant", name="quant_schema", node=QuantConfig)
    cs.store(group="target", name="target_schema", node=TargetConfig)
    cs.store(group="eval", name="eval_schema", node=EvalConfig)
    register_resolvers()


def _trial_name() -> str:
    from mase.search.naming import trial_name

    return trial_name()


def _sqlite_url(folder: str, name: str = "optuna.db") -> str:
    """sqlite URL of a file in `folder`, created now: the Optuna sweeper opens its study before Hydra
    creates the sweep folder."""
    import os

    os.makedirs(folder, exist_ok=True)
    return "sqlite:///" + os.path.join(os.path.abspath(folder), name)


def register_resolvers() -> None:
    """OmegaConf resolvers of the shipped configs (idempotent; also run on import, so the workers of a
    parallel launcher resolve their run folders too): mase_trial names a search trial's folder after
    its choices, mase_directions gives the sweeper one `minimize` per search objective, mase_sqlite is
    the default Optuna storage, a file in the sweep folder."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("mase_trial"):
        OmegaConf.register_new_resolver("mase_trial", _trial_name)
    if not OmegaConf.has_resolver("mase_sqlite"):
        OmegaConf.register_new_resolver("mase_sqlite", _sqlite_url)
    if not OmegaConf.has_resolver("mase_directions"):
        OmegaConf.register_new_resolver("mase_directions", lambda objectives: ["minimize"] * len(objectives))


register_resolvers()
