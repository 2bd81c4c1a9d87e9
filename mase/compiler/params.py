"""Per-node hardware parameters and the analytical resource / cycle model.

Every node gets a parallelism (lanes), FIFO depths on its input edges and, for linear layers, a
weight placement (BRAM, URAM, SPRAM or streamed from off-chip memory over AXI). The compiler picks
them so that every stage sustains the same throughput (cycles per token, the initiation interval
II) within the target's resources, then applies the per-layer overrides of the config
(`hw.overrides`: glob pattern on node names -> in_par / out_par / par / fifo_depth / weights).

    >>> plan = choose_parameters(graph, cfg.target, cfg.hw)
    >>> plan.nodes["model.layers.0.mlp.up_proj"].lanes, plan.ii, plan.totals

Model (documented so that it can be checked; constants at the top of this file):
- cycles per token of a node = ceil(work / lanes) with work from `Node.work` (MACs for linear layers
  and matmuls, elements otherwise); II = the largest over the nodes (the steady-state interval of the
  prefill pipeline, and of decode only when >= pipeline-depth independent sequences are in flight).
- decode (analytical, `decode_model`; the generate stage simulates the KV-cache decode design): one sequence cannot
  overlap its tokens, so batch-1 decode costs a token's latency through every layer (linear layers
  buffer whole vectors, attention reads the KV cache at context / lanes); within 1.7% of Verilator on
  one-token prompts of tiny-llama, tiny-opt and smollm2-135m's decoder layer 0.
- prefill of T tokens: the attention matmuls buffer K and V before a row (V is blocked along tokens):
  of the whole prompt, or with causal chunks (`causal_chunk`, a prompt of >= 2 score/V blocks) of
  the chunk that holds the row, so each layer's output lags its input by one chunk C (else T) plus
  its fill: prefill cycles = T II + sum over layers of (C II + V transposition drain of a chunk +
  buffering stages' vector times + norm row + latencies), plus the final norm (see cycle_model).
  An attention product's cycles per token include sending every head's row (`node_cycles`).
- resources: each node's core instance (cores.map_node) through the fitted model of
  `mase.compiler.resources` for the target's family (ECP5 / UltraScale+ tables, fitted on Yosys by
  benchmarks/bench_resource_model.py), plus the FIFOs on its input edges; the constants below only
  for a node no modelled core computes; weights in 36 Kbit BRAM / 288 Kbit URAM blocks, sized by
  capacity and by port width (72 bits per block and port), or the ROM's blocks from the model.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from mase.errors import MaseError
from mase.formats import get_format

from . import kv_offchip, resources
from .graph import ACC_W, DataflowGraph, Edge, Node

# ------------------------------------------------------------------------------------------------
# Fallback model (nodes that map onto no modelled core; mase.compiler.resources has the fitted one),
# calibrated on Yosys 0.23 `synth_xilinx -family xcup` runs (hierarchical, before 57bfd56) of every distinct node
# configuration of tiny-llama mxint4 (the synth stage with hw.synth_scope=nodes): mx_linear 64x128 at
# 32x2 lanes 8.2k LUT / 1.4k FF, 64x64 at 32x1 4.2k / 0.8k, 64x32 at 8x1 2.6k / 0.55k; mx_quantize
# (1 lane, 32-bit in) 0.6-0.8k LUT; mx_dequantize 0.2-0.3k; residual add 83; swiglu 420 LUT, 6 DSP.
# A lane's product of wa x wb bits goes to a DSP48E2 from 6x6 bits up.
LUT_PER_PRODUCT_BIT = 3.5  # LUTs per bit^2 of a LUT-built multiply (incl. its share of the adder tree)
FF_PER_LUT = 0.18
DSP_PRODUCT_BITS = 36  # wa * wb at or above this -> one DSP48E2 per lane
NODE_CONTROL = {"linear": (700, 250), "matmul_qk": (900, 300), "matmul_sv": (900, 300), "softmax": (900, 300),
                "rmsnorm": (1200, 400), "layernorm": (1400, 450), "act": (150, 40), "swiglu": (300, 60),
                "residual": (60, 25), "rope": (300, 100), "quantize": (550, 80), "dequantize": (150, 25)}
ELEM_LUT = {"softmax": 60, "rmsnorm": 40, "layernorm": 48, "act": 60, "swiglu": 120, "residual": 25, "rope": 90,
            "quantize": 250, "dequantize": 40}  # LUTs per lane of the element-wise cores
ELEM_DSP = {"rmsnorm": 1, "layernorm": 1, "act": 2, "swiglu": 6, "rope": 4, "softmax": 1}
BRAM_KBIT, PORT_BITS = 36, 72
# the cores map_node may instantiate (the resource model maps every node as if all exist)
_ALL_CORES = frozenset({"mase:mx:activation", "mase:mx:mx_dequantize", "mase:mx:mx_linear", "mase:mx:mx_matmul",
                        "mase:mx:mx_quantize", "mase:mx:residual_add", "mase:mx:rope", "mase:mx:softmax",
                        "mase:mx:swiglu", "mase:mx:rmsnorm", "mase:mx:layernorm"})
LANE_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
FIFO_BRAM_MIN_BITS = 2048  # smaller FIFOs go to LUT RAM / registers


@dataclass
class NodeParams:
    name: str
    op: str
    in_par: int = 1
    out_par: int = 1
    fifo_depth: dict[str, int] = field(default_factory=dict)  # input edge -> depth in beats
    weights: str = "none"  # none | bram | uram | spram | axi
    weight_bits: int = 0
    cycles_per_token: int = 0
    work: int = 0
    lut: int = 0
    ff: int = 0
    dsp: int = 0
    bram: float = 0.0
    uram: int = 0
    source: str = "auto"  # auto | override:<pattern>
    rom_bram: float = 0.0  # block RAMs of a linear layer's weight ROM if its weights stay on chip (resource model)
    kv: str = ""  # decode design, Q.K^T / V's quantizer: "offchip" = its KV cache in off-chip memory (hw.kv_cache)
    short: bool = False  # its output quantizer's short pipeline (mx_quantize SHORT; short_pipeline(target))

    @property
    def lanes(self) -> int:
        # an attention product's out_par packs output elements into a beat (mase_attn_matmul OUT_PAR);
        # its multipliers are in_par per head
        return self.in_par * (1 if self.op in ("matmul_qk", "matmul_sv") else self.out_par)


@dataclass
class HwPlan:
    target: str
    clock_mhz: float
    seq_len: int
    ii: int
    nodes: dict[str, NodeParams]
    totals: dict[str, float]
    capacity: dict[str, float]
    offchip_gbps_needed: float
    offchip_gbps_available: float | None
    onchip_weight_bits: int
    offchip_weight_bits: int
    notes: list[str] = field(default_factory=list)
    weights_mode: str = "auto"  # hw.weights: onchip | offchip | auto (the architecture's weight memory)
    memory: dict[str, Any] | None = None  # the off-chip memory model (memory_model) when weights are streamed
    fold: int = 0  # hw.fold: 0 = a hardware decoder layer per layer; N = N hardware layers, reused `passes` times
    passes: int = 1  # passes of the prompt through the hardware decoder layers (fold: the model's layers / N)
    loop: dict[str, Any] | None = None  # fold: the activation buffer (mx_loop) between the passes
    kv_cache: str = "onchip"  # the decode design's KV caches: onchip | offchip (hw.kv_cache, mase.compiler.kv_offchip)

    def built(self, name: str) -> bool:
        """Whether node `name` has its own hardware (folded: layers 0..N-1's nodes and those after the layers)."""
        return built(name, self.fold)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nodes"] = {k: {**asdict(v), "lanes": v.lanes} for k, v in self.nodes.items()}
        return d


_LAYER = re.compile(r"\.layers\.(\d+)\.")


def fold_layer(name: str) -> int | None:
    """The decoder layer of a node or edge name (model.layers.<i>. / model.decoder.layers.<i>.), None outside."""
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def built(name: str, fold: int) -> bool:
    """Whether node `name` has its own hardware under hw.fold=`fold` (0: every node; N: decoder layers
    0..N-1, whose hardware computes layers l, l + N, l + 2N, ..., and the nodes after the layers)."""
    lay = fold_layer(name)
    return not fold or lay is None or lay < fold


def layer_name(name: str, layer: int) -> str:
    """The same node or edge of decoder layer `layer` (folding: layer 0's hardware computes every layer)."""
    return _LAYER.sub(f".layers.{layer}.", name, count=1)


def loop_buffer(g: DataflowGraph, params: dict[str, NodeParams], fold: int = 1, family: str = "xcup") -> dict[str, Any]:
    """The activation buffer of a folded design (hw.fold=`fold`; mase:mx:loop's mx_fifo): the prompt's T
    tokens of the residual stream (the graph's input edge) at the lanes of its first consumer, a power of
    two deep; and the on-chip copies of the other layers' norm parameters and biases. The decode design
    (g.decode): a pass is one token, and each hardware layer keeps the K and V caches of every layer it
    computes (`kv_extra_bits`: the L - N caches beyond the hardware layers' own). Blocks in the target
    `family`'s block RAMs (resources.ram_blocks: 18 Kbit on the ECP5)."""
    e = g.edges[g.inputs[0]]
    lanes = params[e.consumers[0]].in_par
    beats = (1 if g.decode else g.seq_len) * e.padded // lanes
    width = lanes * (e.fixed[0] if e.is_fixed else _elem_bits(e.fmt))
    depth = 1 << max(1, (beats - 1).bit_length())
    bits = depth * width
    bram = resources.ram_blocks(family, width, depth)
    # every layer's norm parameters and biases stay on chip (selected by the pass): the L - 1 copies
    # beyond the hardware layer's own (norm ROMs: gains, LayerNorm betas; mx_linear bias banks). A
    # norm's parameter ROM (mase_param_rom) holds the L / N layers' rows of one hardware layer's norm
    from mase.golden.nonlinear import NormConfig

    nc = NormConfig()
    norms = [n for n in g.nodes if n.layer == 0 and n.op in ("rmsnorm", "layernorm")]
    per_layer = sum(n.attrs["features"] * (nc.g_w + (nc.out_w if n.op == "layernorm" else 0)) for n in norms)
    biases = sum(-(-n.attrs["out_features"] // n.attrs["block"]) * n.attrs["block"] * ACC_W
                 for n in g.nodes if n.layer == 0 and n.op == "linear" and n.attrs.get("has_bias"))
    per_layer += biases
    extra = (g.layers - fold) * per_layer
    kbit = resources.block_bits(family)
    passes = g.layers // fold
    bram += sum(resources.ram_blocks(family, w, passes * n.attrs["features"])
                for n in norms for w in ((nc.g_w, nc.out_w) if n.op == "layernorm" else (nc.g_w,)))
    bram += math.ceil((g.layers - fold) * biases / kbit)
    kv = kv_cache_bits(g, params, 0) if g.decode and not kv_offchip.layer_kv_offchip(params) else 0
    kv_extra = (g.layers - fold) * kv
    bram += math.ceil(kv_extra / kbit)
    return {"edge": e.name, "lanes": lanes, "beats": beats, "depth": depth, "width": width, "bits": bits,
            "passes": g.layers // fold, "layer_param_bits": per_layer, "extra_param_bits": extra,
            "layer_kv_bits": kv, "kv_extra_bits": kv_extra, "bram": bram,
            "lut": 0 if bram else math.ceil(bits / 64) + 60, "ff": width + 60}


def kv_cache_bits(g: DataflowGraph, params: dict[str, NodeParams], layer: int) -> int:
    """On-chip bits of decoder layer `layer`'s KV caches in the decode design: the K cache of Q.K^T
    (mase_attn_matmul CHUNK 1: context tokens of K in its MX format, a scale byte per beat of in_par
    elements) and the V cache (mase_transpose_pad STEP 1: context tokens of V in the quantizer's input
    fixed-point format, before V is blocked along the tokens)."""
    bits = 0
    for n in g.nodes:
        if n.layer != layer:
            continue
        if n.op == "matmul_qk":
            e, par = g.edges[n.inputs[1]], params[n.name].in_par
            bits += g.seq_len * (e.padded * _elem_bits(e.fmt) + -(-e.padded // par) * 8)
        elif n.op == "quantize" and n.attrs.get("along") == "tokens":
            e = g.edges[n.inputs[0]]
            bits += g.seq_len * e.features * e.fixed[0]
    return bits


def _get(obj: Any, key: str, default: Any) -> Any:
    if obj is None:
        return default
    v = obj.get(key, default) if hasattr(obj, "get") else getattr(obj, key, default)
    return default if v is None else v


def _elem_bits(fmt: str) -> int:
    if fmt.startswith("fixed") and fmt != "fixed8":
        return int(fmt[5:].split("_")[0])
    return get_format(fmt, 32).element.bits if fmt != "fixed8" else 8


def _divisors(n: int, cap: int) -> list[int]:
    return [d for d in LANE_CHOICES if d <= cap and n % d == 0]


# ------------------------------------------------------------------------------------------------
# legal parallelism per node
# ------------------------------------------------------------------------------------------------
def _par_space(n: Node, g: DataflowGraph) -> tuple[list[int], list[int]]:
    """(in_par choices, out_par choices) that divide the node's dimensions."""
    a = n.attrs
    if n.op == "linear":
        k = a["block"]  # both streams are zero-padded to whole blocks (K = K_OUT): lanes divide a block
        return _divisors(k, 256), _divisors(k, 256)
    if n.op in ("matmul_qk", "matmul_sv"):
        k = a["block"]
        red = a["head_dim"] if n.op == "matmul_qk" else g.seq_len
        red = -(-red // k) * k  # padded to whole blocks
        ob = g.edges[n.outputs[0]].block  # output elements a beat: within a block and a padded row
        return _divisors(math.gcd(red, k), 256), _divisors(math.gcd(ob, _matmul_row(n, g)), 256)
    e = g.edges[n.inputs[0]]
    feats = e.padded if not e.is_fixed else e.features
    o = g.edges[n.outputs[0]]
    if not o.is_fixed:
        feats = math.gcd(feats, o.block)
        if o.seg:
            feats = math.gcd(feats, o.seg)
        if n.attrs.get("along") == "tokens":
            feats = math.gcd(feats, g.seq_len)
    if not e.is_fixed:  # a whole vector that is not whole blocks (a linear's output) is one segment too
        feats = math.gcd(feats, e.block, e.seg or e.features)
    for s in (e.seg, o.seg):  # a beat never straddles two segments (padding is added / dropped per segment)
        if s:
            feats = math.gcd(feats, s)
    return _divisors(feats, 256), [1]


def _core_estimate(n: Node, p: NodeParams, g: DataflowGraph, family: str) -> dict[str, float] | None:
    """The node's core instance (mase.compiler.cores.map_node) through the fitted resource model
    (mase.compiler.resources); None when the node maps onto no modelled core."""
    from .cores import Unmapped, map_node  # cores imports this module

    if family not in resources.FITTED:  # iCE40: not fitted (synth_ice40 keeps products in LUTs), the old model
        return None
    try:
        inst = map_node(n, p, g, _ALL_CORES)
    except (Unmapped, KeyError, ValueError, TypeError):
        return None
    if resources.kind_of(inst.vlnv, inst.module) not in resources.FEATURE_FNS:
        return None
    prm = {k: v for k, v in inst.params.items() if k not in ("W_FILE", "S_FILE", "B_FILE")}
    est = resources.estimate(inst.vlnv, inst.module, prm, family)
    if n.op == "linear":  # the weight ROM mapped onto the family's block shapes: the fit (tiny models, whose
        # ROMs are LUTs on UltraScale+) puts it at 0.25 RAMB36, and Yosys puts smollm2's down_proj at 108
        est["rom_blocks"] = resources.rom_blocks({**prm, "W_SOURCE": 0}, family)
    return est


def _resources(n: Node, p: NodeParams, g: DataflowGraph, family: str = "xcup") -> None:
    a = n.attrs
    lut0, ff0 = NODE_CONTROL.get(n.op, (100, 100))
    core = _core_estimate(n, p, g, family)
    if core is not None:  # the fitted model of the core (benchmarks/bench_resource_model.py)
        p.lut, p.ff, p.dsp = int(round(core["lut"])), int(round(core["ff"])), int(core["dsp"])
        if n.op == "linear":  # the weight ROM's blocks count where _place_weights puts the weights
            p.rom_bram = max(core["bram"], core.get("rom_blocks", 0.0))
        else:
            p.bram += core["bram"]
    elif n.op in ("linear", "matmul_qk", "matmul_sv"):
        if n.op == "linear":
            wa, wb = _elem_bits(a["act_fmt"]), _elem_bits(a["weight_fmt"])
        else:
            wa, wb = (_elem_bits(g.edges[i].fmt) for i in n.inputs)
        lanes = p.lanes * (1 if n.op == "linear" else a["heads"])  # one mx_matmul instance per head
        if wa * wb >= DSP_PRODUCT_BITS:
            p.dsp = lanes
            lut = lanes * (wa + wb) * 2
        else:
            lut = lanes * wa * wb * LUT_PER_PRODUCT_BIT * 2 + lanes * (wa + wb)
        lut += (p.out_par if n.op == "linear" else 1) * 400  # alignment, accumulator and re-quantizer per output lane
        p.lut = int(lut0 + lut)
        p.ff = int(ff0 + lut * FF_PER_LUT)
        if n.op != "linear":  # the B operand buffer (K or V of the prompt) in BRAM
            e = g.edges[n.inputs[1]]
            bits = g.seq_len * e.padded * (_elem_bits(e.fmt) + 8 / e.block)
            p.bram += max(math.ceil(bits / (BRAM_KBIT * 1024)), math.ceil(p.in_par * _elem_bits(e.fmt) / PORT_BITS))
    else:
        p.lut = int(lut0 + ELEM_LUT.get(n.op, 20) * p.lanes)
        p.ff = int(ff0 + ELEM_LUT.get(n.op, 20) * p.lanes * FF_PER_LUT)
        p.dsp = ELEM_DSP.get(n.op, 0) * p.lanes
    for e_name, depth in p.fifo_depth.items():
        e = g.edges[e_name]
        width = (8 if not e.is_fixed else 0) + p.in_par * _elem_bits(e.fmt)
        bits = depth * width
        if bits >= FIFO_BRAM_MIN_BITS:
            p.bram += resources.ram_blocks(family, width, depth)
        else:
            p.lut += math.ceil(bits / 64)  # LUTRAM
            p.ff += width


def _matmul_row(n: Node, g: DataflowGraph) -> int:
    """Elements of an attention product's output row per head, padded to whole output blocks."""
    rows = g.seq_len if n.op == "matmul_qk" else n.attrs["head_dim"]
    ob = g.edges[n.outputs[0]].block
    return -(-rows // ob) * ob


def _used_lanes(n: Node, in_par: int, out_par: int) -> int:
    return in_par if n.op in ("matmul_qk", "matmul_sv") else in_par * out_par


def _lane_key(n: Node, in_par: int, out_par: int) -> tuple[int, int]:
    """Order of preference (smaller first): fewest lanes, then (attention products) fewest output elements a beat."""
    return (in_par, out_par) if n.op in ("matmul_qk", "matmul_sv") else (in_par * out_par, 0)


def node_cycles(n: Node, g: DataflowGraph, work: int, in_par: int, out_par: int) -> int:
    """Cycles per token of a node: its work over its lanes; an attention product also sends every head's
    output row (HEADS x padded row elements, out_par a beat, mase_attn_matmul OUT_PAR), which bounds it
    when the row is long (Q.K^T's row is the prompt: 4 heads x 64 tokens at one element a beat was 256
    cycles a token against an II of 128 on tiny-llama)."""
    if n.op in ("matmul_qk", "matmul_sv"):
        return max(math.ceil(work / in_par), math.ceil(n.attrs["heads"] * _matmul_row(n, g) / out_par))
    return math.ceil(work / (in_par * out_par))


def _beats(e: Edge, par: int) -> int:
    return -(-(e.padded if not e.is_fixed else e.features) // par)


def out_lanes(n: Node, p: NodeParams) -> int:
    """Elements per beat of a node's output stream (mase.compiler.cores.map_node's output lanes)."""
    if n.op == "linear":
        return p.out_par
    return p.out_par if n.op in ("matmul_qk", "matmul_sv") else p.in_par


def _source_lanes(g: DataflowGraph, params: dict[str, NodeParams], e_name: str, by_name: dict[str, Node]) -> int:
    """Lanes of edge `e_name` where its FIFOs sit: emit puts each consumer's FIFO on the producer's
    side of the width converter (a graph input port runs at the lanes of its first consumer)."""
    prod = g.edges[e_name].producer
    if prod:
        return out_lanes(by_name[prod], params[prod])
    first = next(n for n in g.nodes if e_name in n.inputs)
    return params[first.name].in_par


ATTENTION = ("block", "causal")  # hw.attention


def causal_attention(hw: Any) -> bool:
    """hw.attention=causal: the prefill design is the KV-cache datapath fed the whole prompt (g.decode,
    mase_attn_matmul CHUNK 1, mase_transpose_pad STEP 1) with the causal numerics (run_graph(causal=True),
    mase/golden/CONTRACT.md): row t depends on tokens <= t only, so each layer starts row t as soon as
    token t's K and V exist. `block` (default): score rows and V blocked over the whole prompt (causal
    chunks of a block at most, `causal_chunk`). The evaluator's hardware numerics follow it."""
    mode = str(_get(hw, "attention", "block") or "block")
    if mode not in ATTENTION:
        raise MaseError(f"hw.attention={mode!r}: choose block (score and V blocks over the prompt) or causal "
                        f"(row t from tokens <= t: the KV-cache datapath, layers overlapping token by token)")
    return mode == "causal"


def causal_chunk(g: DataflowGraph, layer: int) -> int:
    """Tokens of a causal chunk of a layer's attention (mase_attn_matmul CHUNK; 0: the whole prompt).

    Causal attention: score row t needs keys 0..t only, but Q.K^T re-quantizes a row in blocks along
    the keys and V is blocked along the tokens, so row t needs the whole block that holds token t (the
    golden model's numerics). With chunks of that block, Q.K^T and scores.V serve chunk c of the rows
    as soon as chunk c of K / V exists (the earlier chunks replayed, the later ones zeros, which the
    causal mask makes invisible), and V is transposed a chunk at a time: the layer's barrier shrinks
    from the prompt to one chunk. Used when the prompt is two or more whole chunks."""
    T = g.seq_len
    if g.decode:  # the decode design serves one token at a time (mase_attn_matmul CHUNK 1, its own numerics)
        return 0
    blocks = []
    for n in g.nodes:
        if n.layer != layer:
            continue
        if n.op == "matmul_qk":
            blocks.append(g.edges[n.outputs[0]].block)  # a score row's blocks along the keys
        elif n.op == "matmul_sv":
            blocks.append(g.edges[n.inputs[0]].block)  # probabilities (and V^T) blocked along the tokens
        elif n.op == "quantize" and n.attrs.get("along") == "tokens":
            blocks.append(g.edges[n.outputs[0]].block)
    if len(blocks) != 3:
        return 0
    c = math.lcm(*blocks)
    return c if T % c == 0 and T // c >= 2 else 0


V_DRAIN_MAX_LANES = 8
# the decode design's K and V caches (and a causal prefill, hw.attention=causal, on the same datapath)
# re-read their whole context for every token: up to 32 lanes keep that within the II of the tiny
# models (tiny-llama at 64 tokens: 64 x 64 key elements a token, 128 cycles at 32 lanes)
KV_MAX_LANES = 32


def _drain_lanes(n: Node, g: DataflowGraph, lanes: int, choices: list[int], ii: int) -> int:
    """Lanes of V's quantizer under causal chunks: its transposer drains a chunk (features x chunk /
    lanes cycles) after the chunk's last token and scores.V waits for it, so each layer's lag holds the
    drain: the fewest lanes (up to V_DRAIN_MAX_LANES, at least the balanced `lanes`) that drain a chunk
    within 2 II (tiny-llama: 32 features x 32 tokens, 1 lane 1024 cycles -> 4 lanes 256)."""
    drain = g.edges[n.inputs[0]].features * causal_chunk(g, n.layer)
    ok = [i for i in choices if lanes <= i <= V_DRAIN_MAX_LANES]
    return next((i for i in ok if drain / i <= 2 * ii), max(ok, default=lanes))


def _decode_lanes(n: Node, g: DataflowGraph, in_par: int, out_par: int, ins: list[int], outs: list[int],
                  ii: int, prefill: bool = False) -> tuple[int, int]:
    """Lanes of the decode design's KV caches (g.decode), whose work does not shrink with one token:
    for every token the V cache drains V^T of its whole context (mase_transpose_pad STEP 1, the V
    quantizer's lanes), scores.V loads it whole, and Q.K^T loads every position of the K cache (the
    new key, then a zero key per later position, on the token's path): features x context / lanes
    cycles each. They get the fewest lanes (at least the balanced ones, up to V_DRAIN_MAX_LANES; `prefill`,
    the causal prefill fed a token every II: KV_MAX_LANES, Q.K^T's keys at their padded width) that
    bring that within `ii` (smollm2-135m at 256 tokens: 192 x 256 = 49152 cycles at one lane, 12288
    at 4, with an II of 13824). Q.K^T's heads queue their rows (mase_attn_matmul OUT_PAR 2): with
    OUT_PAR 1 a head computes the part of a row longer than its output stage only while it is read,
    so the heads of a long row take turns (9 x ~3.9k cycles at 256 tokens instead of 8.2k together)."""
    if n.op in ("matmul_qk", "matmul_sv"):
        cache = g.edges[n.inputs[1]]
        span = _matmul_row(n, g) if n.op == "matmul_qk" else -(-g.seq_len // cache.block) * cache.block
        if n.op == "matmul_qk" and out_par == 1 and 2 in outs:
            out_par = 2
        # prefill (hw.attention=causal, a token every II): a key's beats hold each head's segment padded
        # to whole blocks (tiny-llama: 2 x 16 -> 64 elements)
        width = cache.padded if n.op == "matmul_qk" and prefill else cache.features
    elif n.attrs.get("along") == "tokens":
        cache = g.edges[n.inputs[0]]
        span = -(-g.seq_len // g.edges[n.outputs[0]].block) * g.edges[n.outputs[0]].block
        width = cache.features
    else:
        return in_par, out_par
    work = width * span
    ok = [i for i in ins if in_par <= i <= (KV_MAX_LANES if prefill else V_DRAIN_MAX_LANES)]
    return next((i for i in ok if work / i <= ii), max(ok, default=in_par)), out_par


def _v_cache_lanes(n: Node, g: DataflowGraph) -> list[int]:
    """Lane choices of the causal prefill's V cache (mase_transpose_pad STEP 1 + its quantizer): a beat
    holds lanes of one token's features going in and of one feature's tokens coming out, over the
    context padded to whole blocks (T_PAD), so the lanes divide F and T_PAD, not the prompt: a 7-token
    prompt would drain its cache at one lane, 64 x 32 cycles a token on tiny-opt (_par_space's gcd). Head
    segments do not enter (the transposer pads tokens, not features): tiny-opt's 64 features x 64 tokens
    drain at 32 lanes in 128 cycles, not at a head's 16 in 256."""
    e, o = g.edges[n.inputs[0]], g.edges[n.outputs[0]]
    t_pad = -(-g.seq_len // o.block) * o.block
    return _divisors(math.gcd(e.features, o.block, t_pad), 256)


def _feed_kv_cache(n: Node, g: DataflowGraph, params: dict[str, NodeParams], spaces: dict, works: dict) -> None:
    """The KV caches of the causal prefill (hw.attention=causal) take a token's new K or V in a burst:
    the V cache (mase_transpose_pad STEP 1) only between its drains (in_ready = !drain), the K cache
    (mase_attn_matmul CHUNK 1) when its replay of the earlier keys reaches the new position. At the
    producer's one lane that burst is a token's features (tiny-opt: 4 x 32 key elements, 128 cycles) on top of the replay or drain (333
    cycles a token at 64 tokens in Verilator, against an II of 128). The producer (V's dequantizer, K's
    quantizer: streaming nodes) gets the cache's lanes, or the largest legal below, and the cache's
    input FIFO holds two tokens (_fifo_depths)."""
    i = 1 if n.op == "matmul_qk" else 0
    prod = g.edges[n.inputs[i]].producer
    p = params.get(prod) if prod else None
    if p is None or p.op in ("linear", "matmul_qk", "matmul_sv") or p.out_par != 1:
        return
    lanes = max((k for k in spaces[prod][0] if k <= params[n.name].in_par), default=p.in_par)
    if lanes > p.in_par:
        p.in_par = lanes
        p.cycles_per_token = node_cycles(next(x for x in g.nodes if x.name == prod), g, works[prod], p.in_par, 1)


# hw.attention=causal: every node is sized for II / TOKEN_PATH_SPEEDUP where the target has room (see
# _shorten_token_path), the first of these that fits (a target without resources, sim, takes the first: 16;
# (4, 2) before, 64 tokens 0.780 / 0.784 against 0.803 / 0.803 at 16 with the short pipelines, for +82% LUTs)
TOKEN_PATH_SPEEDUP = (16, 8, 4, 2)


def _shorten_token_path(ii: int, params: dict, tot: dict, notes: list, build: Any, finish: Any, fits: Any) -> tuple:
    """The causal prefill (hw.attention=causal) overlaps the layers token by token, so its whole-prompt
    cycles are (T - 1) x interval + the latency of one token through every layer, and that latency is the
    sum of the vector times on the token's path (a linear layer, a norm, Q.K^T, softmax and scores.V each
    buffer a whole vector): at lanes sized for the II every node takes ~II, ~15 II a layer (tiny-llama:
    3,880 cycles for 2 layers at II 128, bounding 64 tokens at 0.67). Sizing every node for II / 16 (or
    / 8, / 4, / 2) where the resources allow shortens the path; the II itself stays that of the nodes
    already at their most parallel (hw.max_lanes). Keeps the plan at `ii` when no faster sizing fits."""
    for speedup in TOKEN_PATH_SPEEDUP:
        fast = build(max(1, ii // speedup))
        if max(p.cycles_per_token for p in fast.values()) > ii:
            continue
        try:
            f_tot, f_notes = finish(fast)
        except MaseError:
            continue
        if fits(f_tot):
            return fast, f_tot, f_notes
    return params, tot, notes


DECODE_PATH_SPEEDUP = (8, 4, 2)
# where streamed linears at the bus's rate do not fit: at most 2x, 4x its time, then sized for the II (None)
BUS_RATE_SLACK = (2, 4, None)
DECODE_PATH_OPS = ("matmul_qk", "matmul_sv", "softmax", "rmsnorm", "layernorm")  # and the V cache's quantizer


def _shorten_decode_path(ii: int, params: dict, tot: dict, notes: list, build: Any, finish: Any, fits: Any) -> tuple:
    """Batch-1 decode with streamed weights (the decode design, its linears at the bus's rate): a token's
    time is the larger of the bus time of its weights and its path through every layer, on which the nodes
    other than the linears (norms, the KV caches' replay, softmax, scores.V) take ~II each at lanes sized
    for the II (tiny-llama on the ECP5-85, II 1024: a 14.9 k-cycle path against 9.8 k of bus time at 0.2
    GB/s). Sizes the KV caches, the attention products, softmax and the norms (DECODE_PATH_OPS: the longest
    stretches of the path, few multipliers) for II / 8 (or / 4, / 2) where the target has room."""
    for speedup in DECODE_PATH_SPEEDUP:
        fast = build(ii, max(1, ii // speedup))
        try:
            f_tot, f_notes = finish(fast)
        except MaseError:
            continue
        if fits(f_tot):
            return fast, f_tot, f_notes
    return params, tot, notes


def _fifo_depths(n: Node, g: DataflowGraph, default: int, params: dict[str, NodeParams],
                 by_name: dict[str, Node], kv_prefill: bool = False) -> dict[str, int]:
    """FIFO depth (beats at the producer's lanes) on each input: deep where the other input passes a
    barrier (the whole prompt), so that a prompt of any length streams without deadlock."""
    out = {}
    for i, e_name in enumerate(n.inputs):
        e = g.edges[e_name]
        beats = _beats(e, _source_lanes(g, params, e_name, by_name))
        if n.op in ("matmul_qk", "matmul_sv") and i == 0:
            # A waits until B (K or V of the whole prompt) is buffered; the decode design (a token at a
            # time) waits for one token's B: its row of A and one more
            depth = (2 if g.decode and not g.prefill else g.seq_len) * beats
        elif causal_chunk(g, n.layer) and ((n.op == "matmul_qk" and i == 1) or n.attrs.get("along") == "tokens"):
            # causal chunks: K waits while mase_attn_matmul replays the earlier chunks into the next B;
            # V waits while its transposer drains a chunk (features x chunk cycles)
            depth = causal_chunk(g, n.layer) * beats
        elif kv_prefill and ((n.op == "matmul_qk" and i == 1) or n.attrs.get("along") == "tokens"):
            depth = 2 * beats  # a token's new key / value waits whole for the cache (_feed_kv_cache)
        elif n.op == "residual" and i == 0:
            # skip connection: tokens in flight in the other branch (attention: the whole prompt;
            # the MLP: norm, two linear layers and their pipelines, about 4-5 tokens)
            # (the decode design: attention holds one token, whose whole row the norm takes before q, k, v)
            tokens = 4 if g.decode and not g.prefill else g.seq_len + 2
            depth = tokens * beats if "attn" in n.name else 8 * beats
        else:
            depth = default
        out[e_name] = max(2, 1 << (int(depth) - 1).bit_length())  # power of two
    return out


# ------------------------------------------------------------------------------------------------
# weight placement
# ------------------------------------------------------------------------------------------------
def _weight_bits(n: Node) -> int:
    a = n.attrs
    f = get_format(a["weight_fmt"], a["block"])
    per = f.element.bits if hasattr(f, "element") else 8
    k = a["block"]
    w = -(-a["in_features"] // k) * k * (-(-a["out_features"] // k) * k)  # the core's zero-padded ROM
    # fixed8: one constant scale (the core's W_FIXED_SCALE parameter), no scale ROM
    scales = 0 if a["weight_fmt"] == "fixed8" else (w // a["block"]) * 8
    return int(w * per + scales + (a["out_features"] * 32 if a["has_bias"] else 0))


WEIGHT_MODES = ("auto", "onchip", "offchip")  # hw.weights


def _offchip_gbps(target: Any) -> float:
    return float(_get(target, "offchip_bandwidth_gbps", 0) or 0)


def _place_weights(nodes: list[Node], params: dict[str, NodeParams], target: Any, pinned: dict[str, str],
                   mode: str = "auto", over: float = 1.0) -> list[str]:
    """Where each linear layer's weights live, by `mode` (hw.weights; a node pinned by hw.overrides
    keeps its own choice): auto, greedy: the largest layers go to block RAM while 70% of it is free
    (`over` x the part's: hw.utilization > 1 plans over the part on purpose), then off-chip over AXI;
    onchip: the same without the off-chip step (an error naming the fix when a layer does not fit);
    offchip: every layer streamed from off-chip memory (mx_linear W_SOURCE 1)."""
    res = _get(target, "resources", None)
    kind = _get(target, "kind", "sim")
    tname = _get(target, "name", "?")
    if mode not in WEIGHT_MODES:
        raise MaseError(f"hw.weights={mode!r}: choose one of {', '.join(WEIGHT_MODES)}")
    offchip = _offchip_gbps(target)
    if not offchip and (mode == "offchip" or "axi" in pinned.values()):
        what, fix = (("hw.weights=offchip", "hw.weights=onchip / auto") if mode == "offchip"
                     else ("hw.overrides weights=axi", "another weights= in hw.overrides"))
        raise MaseError(f"{what} streams weights from off-chip memory but target {tname} has none "
                        f"(target.offchip_bandwidth_gbps is not set): set it, or use {fix}")
    if mode == "offchip":
        pinned = {n.name: pinned.get(n.name, "axi") for n in nodes}
    notes = []
    if kind == "sim":
        for n in nodes:
            p = params[n.name]
            p.weights = pinned.get(n.name, "bram")
            if p.weights == "axi":
                continue
            p.bram += p.rom_bram or _mem_blocks(p.weight_bits, p.lanes * _elem_bits(n.attrs["weight_fmt"]) + 8 * p.out_par,
                                                BRAM_KBIT)
        return notes
    bram_left = _get(res, "bram", 0) * _get(res, "bram_kbit", 36) * 1024 * 0.7 * over  # 30% for FIFOs/buffers
    # UltraRAM (UltraScale+) and SPRAM (iCE40) come up empty: the configuration cannot initialise them, so
    # they cannot hold the weight ROMs (mx_linear's $readmemh images); Yosys maps such a ROM onto block RAM
    # (smollm2-135m spatial on the U250 with 53 MB of weights "in URAM": 12,957 RAMB36 of 2,688)
    for n in sorted(nodes, key=lambda n: -params[n.name].weight_bits):
        p = params[n.name]
        bits, width = p.weight_bits, p.lanes * _elem_bits(n.attrs["weight_fmt"]) + 8 * p.out_par
        want = pinned.get(n.name, "auto")
        if want in ("uram", "spram"):
            raise MaseError(f"hw.overrides weights={want} for {n.name}: {want.upper()} cannot be initialised at "
                            f"configuration, so it cannot hold a weight ROM: use weights=bram, axi or auto")
        # a ROM takes whole blocks of its shape (smollm2's 576 x 1536 at 64 lanes: 108 RAMB36 for 3.76 Mbit)
        blocks = p.rom_bram or _mem_blocks(bits, width, _get(res, "bram_kbit", 36))
        need = blocks * _get(res, "bram_kbit", 36) * 1024
        if want in ("auto", "bram") and bram_left >= need:
            p.weights, bram_left = "bram", bram_left - need
            p.bram += blocks
        elif (want == "axi" or (want == "auto" and mode == "auto")) and offchip:
            p.weights = "axi"
        elif mode == "onchip" and want == "auto":
            raise MaseError(f"hw.weights=onchip: the weights of {n.name} ({_size(bits)}) do not fit in the "
                            f"on-chip memory of {tname} (largest free: {_size(bram_left)}): use hw.weights=offchip or auto"
                            + (" (the target has off-chip memory)" if offchip else "")
                            + ", a larger target or a narrower weight format")
        else:
            where = want if want != "auto" else "on-chip memory"
            raise MaseError(f"weights of {n.name} ({_size(bits)}) do not fit in {where} of "
                            f"{tname} and it has no off-chip memory: choose a larger target "
                            f"or a narrower weight format")
    return notes


# ------------------------------------------------------------------------------------------------
# off-chip memory (streamed weights): the bus and the simulation's memory model
# ------------------------------------------------------------------------------------------------
DEFAULT_BUS_BITS = 512  # the U250's DDR4 controller port (MIG AXI, 512 bits at 300 MHz)
DEFAULT_LATENCY_NS = 100.0  # an assumed DRAM read latency (controller and device, idle)
BUS_PROTOCOL = ("one AXI4-Stream per streamed linear layer (w_<node>_data/_valid/_ready = TDATA/TVALID/TREADY), "
                "fed by a DMA (MM2S) channel reading the layer's region of the memory image once per input "
                "vector; all channels share one read port of bus_bits a cycle")


DMA_FIFO_WORDS = 512  # hw.dma_fifo_words=0: one ECP5 DP16KD at 32 bits (512 x 36), two 256-beat AXI bursts


def memory_model(target: Any, hw: Any = None) -> dict[str, Any] | None:
    """The off-chip memory that streamed weights come from, at the design's clock (the testbench's
    mx_tb_mem / mx_tb_dma and the decode model's bandwidth cap); None without off-chip memory.

    bus_bits: hw.bus_bits, else target.offchip_bus_bits, else 512; bandwidth: the target's
    offchip_bandwidth_gbps, at most bus_bits a cycle; read latency: target.offchip_latency_ns (else 100
    ns) in cycles; each DMA channel keeps up to `fifo_words` words in flight or buffered (hw.dma_fifo_words,
    0: DMA_FIFO_WORDS), at most one pass of its region + 2 (mase.compiler.library.offchip_image): on-chip
    memory next to the DMA engine, counted in the plan's block RAM (dma_buffer_blocks). A value below the
    bus's bandwidth-delay product (2 x latency + 4 words) could not keep the bus busy: one line."""
    gbps = _offchip_gbps(target)
    if not gbps:
        return None
    clock = float(_get(target, "clock_mhz", 100.0))
    bus = int(_get(hw, "bus_bits", 0) or _get(target, "offchip_bus_bits", 0) or DEFAULT_BUS_BITS)
    lat_ns = float(_get(target, "offchip_latency_ns", 0) or DEFAULT_LATENCY_NS)
    lat = max(2, math.ceil(lat_ns * clock / 1000 - 1e-9))
    bus_gbps = bus / 8 * clock / 1000
    eff = min(gbps, bus_gbps)
    per_cycle = eff * 1000 / clock
    fifo = int(_get(hw, "dma_fifo_words", 0) or DMA_FIFO_WORDS)
    if fifo < 2 * lat + 4:
        raise MaseError(f"hw.dma_fifo_words={fifo} is below the bus's bandwidth-delay product ({lat} cycles of "
                        f"latency): give at least 2 x {lat} + 4 = {2 * lat + 4} words a DMA channel")
    return {"protocol": BUS_PROTOCOL, "bus_bits": bus, "clock_mhz": clock, "target_gbps": gbps, "bus_gbps": bus_gbps,
            "bandwidth_gbps": eff, "bytes_per_cycle": per_cycle, "bw_milli": max(1, int(round(per_cycle * 1000))),
            "latency_ns": lat_ns, "latency_cycles": lat, "fifo_words": fifo}


def dma_fifo_words(mem: dict[str, Any], region_words: int) -> int:
    """Words of the DMA channel of a region of `region_words` words: hw.dma_fifo_words, at most one pass
    of the region + 2 (it never needs more), at least the bandwidth-delay product."""
    return min(mem["fifo_words"], max(2 * mem["latency_cycles"] + 4, region_words + 2))


def _wstream_shape(n: Node, p: NodeParams) -> tuple[int, int, int]:
    """(beat bits, blocks, bits a block) of a streamed linear's compact weight stream (mx_wstream_unpack
    in front of mx_linear W_SOURCE 1): OUT_PAR scale bytes (none for fixed8) then the K/IN_PAR element
    fields of each row group's input block, in beats of whole bytes (mase.eda.mx_linear.wstream_port_bytes)."""
    from mase.eda.mx_linear import wstream_port_bytes

    a = n.attrs
    k, w = a["block"], _elem_bits(a["weight_fmt"])
    has_scale = a["weight_fmt"] != "fixed8"
    blocks = (-(-a["out_features"] // k) * k // p.out_par) * -(-a["in_features"] // k)
    return (8 * wstream_port_bytes(p.out_par, p.in_par, w, k, has_scale), blocks,
            (8 * p.out_par if has_scale else 0) + k * p.out_par * w)


def wstream_unpack_params(n: Node, p: NodeParams) -> dict[str, int]:
    """The parameters of the mx_wstream_unpack in front of a streamed linear (mase.eda.mx_linear.wstream_params)."""
    beat, blocks, _ = _wstream_shape(n, p)
    a = n.attrs
    return {"OUT_PAR": p.out_par, "IN_PAR": p.in_par, "W_WIDTH": _elem_bits(a["weight_fmt"]), "K": a["block"],
            "HAS_SCALE": int(a["weight_fmt"] != "fixed8"), "GROUPS": blocks, "IN_BYTES": beat // 8}


def stream_beat_bits(n: Node, p: NodeParams) -> int:
    """Bits of one beat of a streamed linear's w_ port (the compact stream: one scale byte per row and
    block, mx_wstream_unpack), whole bytes: the memory image's beat."""
    return _wstream_shape(n, p)[0]


def streamed_linear_buffers(n: Node, p: NodeParams, g: DataflowGraph, family: str) -> float:
    """Block RAMs of a streamed mx_linear's (W_SOURCE 1) buffers, which the fitted model does not see
    (it was fitted on the tiny models' ROM designs, whose buffers are LUT RAM): the double-buffered copy
    of the input vector (2 x IN_FEATURES / IN_PAR words of IN_PAR elements) and the MX output
    quantizer's block FIFO (OUT_PAR sums, 2 x K_OUT / OUT_PAR + 10 words rounded up to a power of two).
    Yosys on the folded smollm2-135m (ECP5-85): 1 + 2 DP16KD for each of its 7 streamed linear layers."""
    a = n.attrs
    k = a["block"]
    nb = -(-a["in_features"] // k)
    x = resources.ram_blocks(family, p.in_par * _elem_bits(a["act_fmt"]), 2 * nb * k // p.in_par)
    o = g.edges[n.outputs[0]]
    if o.is_fixed or o.fmt == "fixed8":
        return x
    depth = 1 << max(1, (2 * max(1, o.block // p.out_par) + 10 - 1).bit_length())
    return x + resources.ram_blocks(family, p.out_par * (ACC_W + resources._clog2(nb + 1)), depth)


def _bus_cycles(n: Node, mem: dict[str, Any]) -> int:
    """Cycles the off-chip bus takes for a streamed linear's weights a token (elements and one scale byte
    per row and block, as its compact stream carries them): its vector time at the bus's rate."""
    bits = _weight_bits(n) - (n.attrs["out_features"] * 32 if n.attrs["has_bias"] else 0)
    return max(1, int(bits / 8 / mem["bytes_per_cycle"]))


def dma_buffer_blocks(n: Node, p: NodeParams, mem: dict[str, Any] | None, family: str) -> float:
    """Block RAMs of the DMA channel's buffer that feeds a streamed linear (dma_fifo_words bus words, on the
    FPGA next to the DMA engine)."""
    if not mem:
        return 0.0
    words = -(-(stream_beats(n, p) * stream_beat_bits(n, p) // 8) // (mem["bus_bits"] // 8))
    return resources.ram_blocks(family, mem["bus_bits"], dma_fifo_words(mem, words))


def stream_beats(n: Node, p: NodeParams) -> int:
    """w_ port beats per input vector of a streamed linear: its zero-padded matrix in the compact stream
    (elements and one scale byte per row and block), the last beat zero-padded."""
    beat, blocks, block_bits = _wstream_shape(n, p)
    return -(-blocks * block_bits // beat)


def _size(bits: float) -> str:
    return f"{bits / 8e6:.2f} MB" if bits >= 8e6 else f"{bits / 8e3:.1f} kB"


def _mem_blocks(bits: int, width: int, kbit: int) -> int:
    return max(math.ceil(bits / (kbit * 1024)), math.ceil(width / PORT_BITS))


# ------------------------------------------------------------------------------------------------
# the search
# ------------------------------------------------------------------------------------------------
def _overrides(hw: Any) -> dict[str, Any]:
    ov = _get(hw, "overrides", {}) or {}
    return {k: ov[k] for k in ov}


def _apply_override(n: Node, p: NodeParams, pattern: str, ov: Any, ins: list[int], outs: list[int]) -> None:
    for key, choices, attr in (("in_par", ins, "in_par"), ("out_par", outs, "out_par"), ("par", ins, "in_par")):
        v = _get(ov, key, None)
        if v is None:
            continue
        if v not in choices:
            dim = _dim_text(n)
            raise MaseError(f"hw.overrides[{pattern!r}].{key}={v} does not divide {n.name} ({dim}): choose one of "
                            f"{', '.join(map(str, choices))}")
        setattr(p, attr, v)
    p.source = f"override:{pattern}"


def _dim_text(n: Node) -> str:
    a = n.attrs
    if n.op == "linear":
        return f"{a['in_features']} -> {a['out_features']}, block {a['block']}"
    if "head_dim" in a:
        return f"head_dim {a['head_dim']}, block {a['block']}"
    return f"{a.get('features', '?')} features"


def choose_fold(g: DataflowGraph, target: Any, hw: Any = None) -> HwPlan:
    """hw.fold=auto: the most spatial design that fits the target, its LUTs within AUTO_LUT_HEADROOM:
    N hardware decoder layers for the largest N dividing the model's layers whose design fits (N = L: the
    spatial design, with hw.weights as
    configured; N < L: folded, every weight streamed), and below a folded N bound by the off-chip memory the
    smallest N whose prefill cycles are no more; the choice and the expected bottleneck (compute or
    off-chip memory, from the cycle model) are in the plan's notes (printed by emit, kept in emit.json)."""
    errors: dict[int, str] = {}
    # weights pinned on chip (hw.weights=onchip, or an override) rule out folding, which streams them all
    pinned = str(_get(hw, "weights", "auto")) == "onchip" or any(
        _get(ov, "weights", None) not in (None, "axi", "auto") for ov in _overrides(hw).values())
    best = None  # (prefill cycles, n, plan, bound)
    for n in sorted((d for d in range(1, g.layers + 1) if g.layers % d == 0 and not (pinned and d < g.layers)),
                    reverse=True):
        try:
            plan = choose_parameters(g, target, hw, fold=0 if n == g.layers else n, lut_headroom=AUTO_LUT_HEADROOM)
        except MaseError as exc:  # does not fit (or no off-chip memory for a folded design): fold more
            errors[n] = str(exc).replace("hw.fold=auto (layer reuse), ", "")
            continue
        cyc = cycle_model(g, plan)
        if plan.fold:
            bound = cyc["fold"]["bound"]
        else:
            bound = "memory" if plan.offchip_gbps_available and plan.offchip_gbps_needed > plan.offchip_gbps_available \
                else "compute"
        # a folded design bound by the off-chip memory streams every weight whatever N is: fewer hardware
        # layers cost less and are no slower (smollm2-135m on the U250: 15 layers x 2 passes, 492k LUT and
        # 9.6 M prefill cycles, against 1 x 30, 34k LUT and 7.3 M), so keep folding while it is not slower
        if best is None or cyc["prefill_cycles"] <= best[0]:
            best = (cyc["prefill_cycles"], n, plan, bound)
        if not (plan.fold and bound == "memory"):
            break
    if best is not None:
        cycles, n, plan, bound = best
        what = (f"{n} hardware decoder layer{'s' if n > 1 else ''} x {plan.passes} passes" if plan.fold
                else f"spatial ({n} hardware decoder layers)")
        plan.notes.append(f"hw.fold=auto: {what} fits {_get(target, 'name', '?')}; expected bottleneck: {bound} "
                          f"({cycles:,} prefill cycles for {g.seq_len} tokens)")
        return plan
    tried = [f"{'spatial' if n == g.layers else f'{n} hardware layer' + ('s' if n > 1 else '')}: {e}"
             for n, e in errors.items() if n in (g.layers, 1)]
    raise MaseError(f"hw.fold=auto: no design fits {_get(target, 'name', '?')}; " + "; ".join(tried))


# hw.fold=auto leaves the placer room: nextpnr-ecp5 made no progress in HeAP's first legalisation for
# 16-18 minutes on whole designs at 81-83% of the ECP5-85's LUT4 after Yosys (tiny-opt, tiny-llama
# spatial), whose analytical estimates were 76-78% (the model undercounts whole designs by 6-8%), while
# designs at 45-70% placed in 15-26 minutes. So auto keeps the LUT estimate within 90% of hw.utilization
# (72% of the part at the default 0.8; hw.utilization above 1, "plan anyway", still plans anyway).
AUTO_LUT_HEADROOM = 0.9


def choose_parameters(g: DataflowGraph, target: Any, hw: Any = None, fold: int | None = None,
                      lut_headroom: float = 1.0, kv_offchip_: bool | None = None) -> HwPlan:
    """Balanced lanes, FIFO depths and weight placement for `g` on `target` (see the module doc); `fold`:
    hardware decoder layers (hw.fold; None: from `hw`, where auto goes through choose_fold); `lut_headroom`:
    the LUTs may use this share of hw.utilization (auto's room for the placer). The decode design (g.decode,
    not the causal prefill) keeps its KV caches where hw.kv_cache says (`kv_offchip_`: decided; None: from
    hw, auto = on chip where that plan fits, else off chip when the target has off-chip memory)."""
    if g.decode and not g.prefill and kv_offchip_ is None:
        return _choose_kv_cache(g, target, hw, fold, lut_headroom)
    if fold is None:
        fold = _get(hw, "fold", 0)
        if fold == "auto" and not g.decode:
            return choose_fold(g, target, hw)
        fold = 0 if fold == "auto" else int(fold or 0)
    res = _get(target, "resources", None)
    kind = _get(target, "kind", "sim")
    util = float(_get(hw, "utilization", 0.8))
    max_lanes = int(_get(hw, "max_lanes", 64))
    fifo_default = int(_get(hw, "fifo_depth", 4))
    weights_mode = str(_get(hw, "weights", "auto"))
    if fold == g.layers:  # as many hardware layers as the model has: the spatial design
        fold = 0
    if fold and (fold > g.layers or g.layers % fold):
        divs = [d for d in range(1, g.layers + 1) if g.layers % d == 0]
        raise MaseError(f"hw.fold={fold} does not divide the {g.layers} decoder layers of {g.model}: choose one of "
                        f"{', '.join(map(str, divs))}, or 0")
    if fold:
        if not _offchip_gbps(target):
            raise MaseError(f"hw.fold={fold} streams every layer's weights from off-chip memory but target "
                            f"{_get(target, 'name', '?')} has none (target.offchip_bandwidth_gbps is not set): set it, "
                            f"or use hw.fold=0")
        weights_mode = "offchip"  # the reused layer reads every layer's weights (validate: not onchip)
    cap = {"lut": _get(res, "lut", 0), "ff": _get(res, "ff", 0), "dsp": _get(res, "dsp", 0),
           "bram": _get(res, "bram", 0), "uram": _get(res, "uram", 0)} if kind != "sim" else {}
    ovs = _overrides(hw)
    family = str(_get(target, "family", None) or "xcup")  # the resource model's table (resources.FAMILY)
    for pattern in ovs:
        if not any(fnmatchcase(n.name, pattern) for n in g.nodes):
            raise MaseError(f"hw.overrides pattern {pattern!r} matches no node; node names look like "
                            f"{', '.join(n.name for n in g.nodes if n.op == 'linear')[:120]}...")
    spaces = {n.name: _par_space(n, g) for n in g.nodes}
    short = short_pipeline(target)
    # hw.attention=causal: the KV-cache datapath fed the prompt keeps the II (its caches' lanes and bursts);
    # the generate stage's decode design (a token at a time, latency-bound) keeps its own lanes
    kv_prefill = g.decode and causal_attention(hw)
    if kv_prefill:
        for n in g.nodes:
            if n.attrs.get("along") == "tokens":
                spaces[n.name] = (_v_cache_lanes(n, g), [1])
    by_name = {n.name: n for n in g.nodes}
    works = {n.name: n.work(g.edges, g.seq_len) for n in g.nodes}
    # streamed linear layers read their weights at least at the bus's rate (bus_rate), so the bus is busy
    # whenever one computes: at most the bus time of their weights a token (_bus_cycles)
    mem0 = memory_model(target, hw) if weights_mode == "offchip" or any(
        _get(ov, "weights", None) == "axi" for ov in ovs.values()) else None
    axi_pins = {n.name for n in g.nodes if any(fnmatchcase(n.name, pt) and _get(ov, "weights", None) == "axi"
                                                  for pt, ov in ovs.items())}
    bus_cap = {n.name: _bus_cycles(n, mem0) for n in g.nodes if mem0 and n.op == "linear"
               and (weights_mode == "offchip" or n.name in axi_pins)}
    bus_rate = bool(bus_cap)
    slack = [1]  # the streamed linears may be this many times slower than the bus (BUS_RATE_SLACK)

    def build(ii: int, path_ii: int = 0) -> dict[str, NodeParams]:
        """Lanes for `ii`; `path_ii`: the nodes other than streamed linears (and the KV caches) sized for it."""
        out = {}
        for n in g.nodes:
            ins, outs = spaces[n.name]
            p = NodeParams(n.name, n.op, work=works[n.name], short=short)
            goal = (min(ii, bus_cap[n.name] * slack[0]) if bus_rate and n.name in bus_cap
                    else path_ii if path_ii and (n.op in DECODE_PATH_OPS or n.attrs.get("along") == "tokens") else ii)
            # the smallest lane count whose cycles per token meet ii (in_par first: it shares the input)
            best = None
            for o in outs:
                for i in ins:
                    if _used_lanes(n, i, o) > max_lanes:
                        continue
                    if (node_cycles(n, g, works[n.name], i, o) <= goal
                            and (best is None or _lane_key(n, i, o) < _lane_key(n, *best))):
                        best = (i, o)
            if best is None:  # cannot meet ii: the most parallel legal choice
                best = max(((i, o) for o in outs for i in ins if _used_lanes(n, i, o) <= max_lanes),
                           key=lambda t: _lane_key(n, *t), default=(1, 1))
            p.in_par, p.out_par = best
            if n.attrs.get("along") == "tokens" and causal_chunk(g, n.layer):
                p.in_par = _drain_lanes(n, g, p.in_par, ins, ii)
            if g.decode:
                p.in_par, p.out_par = _decode_lanes(n, g, p.in_par, p.out_par, ins, outs, path_ii or ii, kv_prefill)
                if kv_offchip_ and (n.op == "matmul_qk" or (n.op == "quantize" and n.attrs.get("along") == "tokens")):
                    p.kv = "offchip"
            for pattern, ov in ovs.items():
                if fnmatchcase(n.name, pattern):
                    _apply_override(n, p, pattern, ov, ins, outs)
            p.cycles_per_token = node_cycles(n, g, works[n.name], p.in_par, p.out_par)
            out[n.name] = p
            if kv_prefill and (n.attrs.get("along") == "tokens" or n.op == "matmul_qk"):
                _feed_kv_cache(n, g, out, spaces, works)
        return out

    def finish(params: dict[str, NodeParams]) -> tuple[dict[str, float], list[str]]:
        pinned = {}
        for n in g.nodes:
            p = params[n.name]
            p.lut = p.ff = p.dsp = p.uram = 0
            p.rom_bram = 0.0
            p.bram = 0.0
            depth_ov = None
            for pattern, ov in ovs.items():
                if fnmatchcase(n.name, pattern):
                    depth_ov = _get(ov, "fifo_depth", depth_ov)
                    if _get(ov, "weights", None):
                        pinned[n.name] = _get(ov, "weights", None)
            p.fifo_depth = _fifo_depths(n, g, fifo_default, params, by_name, kv_prefill)
            if depth_ov is not None:
                p.fifo_depth = {k: int(depth_ov) for k in p.fifo_depth}
            if n.op == "linear":
                p.weight_bits = _weight_bits(n)
            _resources(n, p, g, family)
            if p.kv == "offchip":  # the cache's stream module (its memory is off chip)
                lut, ff, ram = kv_offchip.stream_resources(g, n, p.in_par)
                p.lut, p.ff = p.lut + lut, p.ff + ff
                if ram:  # the token's values, two read ports
                    p.bram += 2 * resources.ram_blocks(family, *ram)
        notes = _place_weights([n for n in g.nodes if n.op == "linear"], params, target, pinned, weights_mode,
                               max(1.0, util))
        mem = memory_model(target, hw) if any(params[n.name].weights == "axi" for n in g.nodes) else None
        for n in g.nodes:
            if n.op == "linear" and params[n.name].weights == "axi":
                params[n.name].bram += streamed_linear_buffers(n, params[n.name], g, family)
                params[n.name].bram += dma_buffer_blocks(n, params[n.name], mem, family)
                unpack = resources.wstream_unpack(wstream_unpack_params(n, params[n.name]), family)
                params[n.name].lut += int(round(unpack["lut"]))
                params[n.name].ff += int(round(unpack["ff"]))
        # folded: one decoder layer's hardware, the final norm, and the activation buffer between the passes
        hw_nodes = [p for name, p in params.items() if built(name, fold)]
        tot = {k: sum(getattr(p, k) for p in hw_nodes) for k in ("lut", "ff", "dsp", "bram", "uram")}
        if fold:
            buf = loop_buffer(g, params, fold, family)
            for k in ("lut", "ff", "bram"):
                tot[k] += buf[k]
        return tot, notes

    def fits(tot: dict[str, float]) -> bool:
        # logic within `util` of the part; memories (placed with their own margins) within the part
        # (hw.utilization above 1 plans a design over the part on purpose: no headroom then, and the
        # memories may exceed the part by as much)
        lim = {"lut": util * lut_headroom if util <= 1 else util, "ff": util, "dsp": util}
        return (all(not cap.get(k) or tot[k] <= lim[k] * cap[k] for k in ("lut", "ff", "dsp"))
                and all(not cap.get(k) or tot[k] <= max(1.0, util) * cap[k] for k in ("bram", "uram")))

    # candidate IIs: every distinct ceil(work / lanes) reachable, from fast to slow
    cands = sorted({math.ceil(w / l) for w in works.values() for l in LANE_CHOICES if l <= max_lanes})
    floor_ii = max(min(node_cycles(n, g, works[n.name], i, o) for o in spaces[n.name][1] for i in spaces[n.name][0]
                       if _used_lanes(n, i, o) <= max_lanes) for n in g.nodes)
    cands = [c for c in cands if c >= floor_ii] or [floor_ii]

    def fastest_fit() -> tuple | None:
        """(II, params, totals, notes) of the fastest candidate that fits: resources fall as the II grows,
        so a binary search over the candidates."""
        found = None
        lo, hi = 0, len(cands) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            params = build(cands[mid])
            try:
                tot, notes = finish(params)
                ok = not cap or fits(tot)
            except MaseError:
                ok = False
            if ok:
                found, hi = (cands[mid], params, tot, notes), mid - 1
            else:
                lo = mid + 1
        return found

    chosen = fastest_fit()
    for rate in BUS_RATE_SLACK:  # linear layers at the bus's rate do not fit: the nearest to it that do
        if chosen is not None or not bus_rate:
            break
        slack[0] = rate or 1
        bus_rate = rate is not None
        chosen = fastest_fit()
        if chosen is not None:
            chosen[3].append("streamed linear layers at the off-chip bus's rate do not fit the target: sized "
                             + (f"for {rate}x the bus time of their weights" if rate else "for the II")
                             + " instead (decode leaves the bus idle while they compute)")
    if chosen is None:
        params = build(cands[-1])
        tot, notes = finish(params)
        worst = max((k for k in cap if cap[k]), key=lambda k: tot[k] / cap[k])
        if fold and g.decode and worst == "bram" and not kv_offchip_:  # the per-layer KV caches (on chip) do not fit
            kv = loop_buffer(g, params, fold, family)["kv_extra_bits"] + fold * kv_cache_bits(g, params, 0)
            # the generate stage's context is whole quant blocks (generate.design_context): one is its shortest
            block = max((g.edges[n.outputs[0]].block for n in g.nodes if n.attrs.get("along") == "tokens"), default=1)
            fix = ("choose hw.kv_cache=offchip (or auto), a shorter decode context (fewer hw.prompt_tokens + "
                   "hw.generate_tokens) or a bigger target" if g.seq_len > block else
                   f"{g.seq_len} tokens is its shortest context (one quant block): choose hw.kv_cache=offchip (or "
                   f"auto) or a bigger target")
            raise MaseError(f"the folded decode design keeps every layer's KV cache on chip: {g.layers} layers x "
                            f"{g.seq_len} tokens = {kv / 8e3:,.0f} kB, and needs {tot['bram']:.0f} BRAM where "
                            f"{_get(target, 'name', '?')} has {cap['bram']}: {fix}")
        # a spatial design of several layers: layer reuse computes them on fewer hardware layers
        reuse = "hw.fold=auto (layer reuse), " if not fold and g.layers > 1 and not g.decode else ""
        raise MaseError(f"the design needs {tot[worst]:.0f} {worst.upper()} even at its slowest "
                        f"({cands[-1]} cycles/token), {_get(target, 'name', '?')} has {cap[worst]} "
                        f"({100 * tot[worst] / cap[worst]:.0f}%): choose {reuse}a larger target, lower "
                        f"hw.max_lanes or narrower formats")
    ii, params, tot, notes = chosen
    if kv_prefill:
        params, tot, notes = _shorten_token_path(ii, params, tot, notes, build, finish, lambda t: not cap or fits(t))
    elif g.decode and bus_rate:
        params, tot, notes = _shorten_decode_path(ii, params, tot, notes, build, finish, lambda t: not cap or fits(t))
    real_ii = max(p.cycles_per_token for p in params.values())
    clock = float(_get(target, "clock_mhz", 100.0))
    axi_bits = sum(p.weight_bits for p in params.values() if p.weights == "axi")
    onchip = sum(p.weight_bits for p in params.values() if p.weights not in ("axi", "none"))
    tok_s = clock * 1e6 / real_ii
    need = axi_bits / 8 * tok_s / 1e9
    avail = _get(target, "offchip_bandwidth_gbps", None)
    if axi_bits and avail and need > avail:
        notes.append(f"off-chip weights need {need:.1f} GB/s at {tok_s:.0f} tokens/s, the target has {avail} GB/s: "
                     f"decode is memory-bound at {avail / need * tok_s:.0f} tokens/s")
    plan = HwPlan(_get(target, "name", "?"), clock, g.seq_len, real_ii, params, tot, cap, need, avail, onchip,
                  axi_bits, notes, weights_mode, memory_model(target, hw) if axi_bits or kv_offchip_ else None)
    if kv_offchip_:
        plan.kv_cache = "offchip"
    if fold:
        plan.fold, plan.passes, plan.loop = fold, g.layers // fold, loop_buffer(g, params, fold, family)
    return plan


def _choose_kv_cache(g: DataflowGraph, target: Any, hw: Any, fold: int | None, lut_headroom: float) -> HwPlan:
    """hw.kv_cache for the decode design: onchip | offchip | auto (on chip where that plan fits the target,
    else off chip when the target has off-chip memory); the plan's notes name the choice."""
    mode = str(_get(hw, "kv_cache", "auto"))
    if mode not in kv_offchip.KV_MODES:
        raise MaseError(f"hw.kv_cache={mode}: choose one of {', '.join(kv_offchip.KV_MODES)}")
    mem = bool(_offchip_gbps(target))
    name = _get(target, "name", "?")
    if mode == "offchip" and not mem:
        raise MaseError(f"hw.kv_cache=offchip keeps the KV caches in off-chip memory but target {name} has none "
                        f"(target.offchip_bandwidth_gbps is not set): set it, or use hw.kv_cache=onchip")
    if mode != "auto":
        plan = choose_parameters(g, target, hw, fold, lut_headroom, mode == "offchip")
        why = "hw.kv_cache=" + mode
    else:
        try:
            plan = choose_parameters(g, target, hw, fold, lut_headroom, False)
            why = "hw.kv_cache=auto: they fit on chip"
        except MaseError as e:
            if not mem:
                raise
            plan = choose_parameters(g, target, hw, fold, lut_headroom, True)
            why = f"hw.kv_cache=auto: on chip they do not fit ({str(e).split(':')[0]})"
    where = "off-chip memory (read back every token over the weights' bus)" if plan.kv_cache == "offchip" else "on chip"
    plan.notes.append(f"KV caches {'in ' if plan.kv_cache == 'offchip' else ''}{where}; {why}")
    return plan


# ------------------------------------------------------------------------------------------------
# cycles
# ------------------------------------------------------------------------------------------------
# softmax stays 21 after its reciprocal became one bit a cycle (decode latency +11, DECODE_LATENCY): in
# prefill the row's reciprocal overlaps the next rows, and Verilator's tiny-llama fixed8 prefill moved
# by +4 cycles over 2 layers (7076 -> 7080, the swiglu stage), not by the +26 that 32 would add
NODE_LATENCY = {"linear": 21, "matmul_qk": 21, "matmul_sv": 21, "softmax": 21, "rmsnorm": 65, "layernorm": 68,
                "act": 12, "swiglu": 18, "residual": 3, "rope": 11, "quantize": 13, "dequantize": 5}


def cycle_model(g: DataflowGraph, plan: HwPlan, context: int | None = None) -> dict[str, Any]:
    """Analytical cycles per token for prefill (the prompt) and decode (`decode_model` at `context`
    tokens of KV cache, default the prompt length): decode_cycles_per_token is one sequence's
    (batch 1) token latency, decode_batched_cycles_per_token the interval with the pipeline full."""
    T, ii = g.seq_len, plan.ii
    per_layer: dict[int, int] = {}
    row: dict[int, int] = {}
    for n in g.nodes:
        p = plan.nodes[n.name]
        per_layer[n.layer] = per_layer.get(n.layer, 0) + NODE_LATENCY.get(n.op, 4) - short_saving(n, p, g)
        if n.op in ("rmsnorm", "layernorm"):  # a norm emits a row once it has seen all of it
            row[n.layer] = max(row.get(n.layer, 0), p.cycles_per_token)
    # the attention barrier: V is transposed (the whole prompt buffered, then drained feature by
    # feature), so each layer is two pipelined halves of T tokens plus the drain
    barrier: dict[int, int] = {}
    for n in g.nodes:
        if n.op == "quantize" and n.attrs.get("along") == "tokens":
            e = g.edges[n.outputs[0]]
            t_pad = causal_chunk(g, n.layer) or -(-T // e.block) * e.block  # a chunk at a time, or the prompt
            barrier[n.layer] = max(barrier.get(n.layer, 0), g.edges[n.inputs[0]].features * t_pad // plan.nodes[n.name].lanes)
    # The prompt streams through T tokens at the II, and each layer's output lags its input by one
    # barrier: the whole prompt (T tokens), or with causal chunks one chunk (tokens leave one barrier and
    # enter the next as they come). Per layer, the fill: the V drain, the latencies, one
    # norm row and the vector time of every buffering stage on its longest path (a linear layer or an
    # attention product starts on a whole vector). Checked against Verilator on tiny-llama for prompts
    # of 4 to 32 tokens (within 1.1%), at 64 tokens with chunks of 32 (tiny-llama 0.9%) and on the
    # model_vs_sim of every report.
    no_fill = _unblocked_quantizer_fill(g, plan)
    buffering = _buffering_path(g, plan)
    layers = [lay for lay in per_layer if lay >= 0]
    # with causal chunks (causal_chunk) a layer's second half waits for one chunk, not the prompt
    prefill = T * ii + sum((causal_chunk(g, lay) or T) * ii for lay in layers)
    prefill += sum(barrier.get(lay, 0) + per_layer[lay] + buffering.get(lay, 0) + row.get(lay, 0) - no_fill.get(lay, 0)
                   for lay in layers)
    prefill += per_layer.get(-1, 0) + row.get(-1, 0)
    if g.decode:  # the KV-cache datapath fed the prompt (hw.attention=causal): row t waits for no later
        # token, so the layers overlap token by token: the first token's latency (its K cache sends a
        # zero key for every later position), then a token every interval (the II, or the slower KV caches)
        prefill = (decode_model(g, plan, 1)["latency_cycles"]
                   + (T - 1) * max(ii, decode_model(g, plan, T)["ii_cycles"], _kv_interval(g, plan)))
    ideal = max(math.ceil(n.work(g.edges, T) / plan.nodes[n.name].lanes) for n in g.nodes)
    dec = decode_model(g, plan, context or T)
    fold = None
    if plan.fold:  # the hardware layers 0..N-1: their lags (a chunk or the prompt) and fills
        hw_layers = range(plan.fold)
        lag = sum((causal_chunk(g, lay) or T) * ii + barrier.get(lay, 0) + per_layer[lay] + buffering.get(lay, 0)
                  + row.get(lay, 0) - no_fill.get(lay, 0) for lay in hw_layers)
        fold = _fold_cycles(g, plan, lag, per_layer.get(-1, 0) + row.get(-1, 0))
        prefill = fold["prefill_cycles"]
        dec = {**dec, "ii_cycles": dec["ii_cycles"] * plan.passes}  # a token passes the one layer L times
        dec["tokens_per_s_batched"] = plan.clock_mhz * 1e6 / dec["ii_cycles"]
    return {"source": "analytical", "ii": ii, "prefill_cycles": prefill, "prefill_cycles_per_token": prefill / T,
            "fold": fold,
            "decode_cycles_per_token": dec["latency_cycles"], "decode_batched_cycles_per_token": dec["ii_cycles"],
            "ideal_cycles_per_token": ideal, "tokens_per_s_decode": dec["tokens_per_s_batch1"],
            "tokens_per_s_decode_batched": dec["tokens_per_s_batched"],
            "tokens_per_s_prefill": plan.clock_mhz * 1e6 * T / prefill, "decode": dec}


KV_ROW_GAP = 4  # cycles a token beyond the K cache's beats, Verilator (see _kv_interval)


def _kv_interval(g: DataflowGraph, plan: HwPlan) -> int:
    """Cycles a token of the KV-cache datapath fed a whole prompt (hw.attention=causal), set by Q.K^T's K
    cache: every token it sends every position of the cache (the earlier keys replayed, the new one, zero
    keys after it) through its one B port, KV_HEADS x RB beats a position, plus KV_ROW_GAP. Verilator at
    64 tokens: tiny-llama 132 cycles a token (2 x 64 x 1 + 4), tiny-opt 259 (4 x 64 x 1 + 3). The causal
    prefill's K cache (g.prefill, mase_attn_matmul B_PER_GROUP) replays each KV group on its own: RB beats
    a position."""
    worst = 0
    for n in g.nodes:
        if n.op != "matmul_qk":
            continue
        rb = -(-(g.edges[n.inputs[0]].padded // max(1, n.attrs.get("heads", 1))) // plan.nodes[n.name].in_par)
        groups = 1 if g.prefill else n.attrs.get("kv_heads", n.attrs.get("heads", 1))
        worst = max(worst, g.seq_len * groups * rb + KV_ROW_GAP)
    return worst


def _fold_cycles(g: DataflowGraph, plan: HwPlan, lag: int, tail: int) -> dict[str, Any]:
    """Prefill of a folded design (hw.fold=N): the prompt passes the N hardware layers `passes` times.
    Compute: a token enters every II; pass p + 1 starts when pass p's tokens have entered and its first
    output is back (`lag`: per hardware layer one causal chunk or the prompt, plus its fill), so
    (passes - 1) x max(T x II, lag) + T x II + lag + the final norm (`tail`): for a whole-prompt barrier
    the spatial design's figure. Memory: every token of every pass reads the N layers' weights over the
    one bus (the DMA channels prefetch across the attention barrier, so the bus can stay busy):
    passes x T x the bus time of N layers' weights, plus the last pass's lag and the final norm.
    The prefill is the larger of the two."""
    T, ii = g.seq_len, plan.ii
    layer_bytes = sum(stream_beats(n, plan.nodes[n.name]) * stream_beat_bits(n, plan.nodes[n.name]) // 8
                      for n in g.nodes if n.op == "linear" and 0 <= n.layer < plan.fold
                      and plan.nodes[n.name].weights == "axi")
    mem = plan.memory or {}
    bus = math.ceil(layer_bytes / mem["bytes_per_cycle"]) if mem.get("bytes_per_cycle") else 0
    layer = T * ii + lag  # one pass, first token in to last token out (compute)
    compute = (plan.passes - 1) * max(T * ii, lag) + layer + tail
    memory = plan.passes * T * bus + lag + tail
    return {"passes": plan.passes, "bus_cycles_per_token_pass": bus, "layer_weight_bytes_per_token": layer_bytes,
            "layer_cycles": layer, "compute_cycles": compute, "memory_cycles": memory,
            "prefill_cycles": max(compute, memory), "bound": "memory" if memory > compute else "compute"}


def _buffering_path(g: DataflowGraph, plan: HwPlan) -> dict[int, int]:
    """Per layer, the longest path of vector times (cycles per token) of the buffering stages, linear
    layers and attention products, through the layer's nodes (q/k/v in parallel count once)."""
    layer = {n.name: n.layer for n in g.nodes}
    dist: dict[str, int] = {}
    out: dict[int, int] = {}
    for n in g.nodes:  # capture order is a topological order
        srcs = [g.edges[i].producer for i in n.inputs if g.edges[i].producer and layer[g.edges[i].producer] == n.layer]
        own = plan.nodes[n.name].cycles_per_token if n.op in ("linear", "matmul_qk", "matmul_sv") else 0
        dist[n.name] = max((dist[p] for p in srcs), default=0) + own
        out[n.layer] = max(out.get(n.layer, 0), dist[n.name])
    return out


def _unblocked_quantizer_fill(g: DataflowGraph, plan: HwPlan) -> dict[int, int]:
    """Per layer, the block fill (block / lanes cycles) that the fitted prefill constants include for
    every MX quantizer on the longest path, which a fixed8 quantizer (element-wise, no block to wait
    for) does not spend: the longest path of those fills through the layer's nodes."""
    layer = {n.name: n.layer for n in g.nodes}
    dist: dict[str, int] = {}
    for n in g.nodes:  # capture order is a topological order
        srcs = [g.edges[i].producer for i in n.inputs if g.edges[i].producer]
        e = g.edges[n.outputs[0]] if n.outputs else None
        fill = (n.op == "quantize" and e is not None and e.fmt == "fixed8" and n.attrs.get("along") != "tokens")
        dist[n.name] = max((dist[p] for p in srcs), default=0) + (e.block // max(1, plan.nodes[n.name].lanes) if fill else 0)
    out: dict[int, int] = {}
    for n in g.nodes:
        start = max((dist[g.edges[i].producer] for i in n.inputs
                     if g.edges[i].producer and layer[g.edges[i].producer] != n.layer), default=0)
        out[n.layer] = max(out.get(n.layer, 0), dist[n.name] - start)
    return out


# ------------------------------------------------------------------------------------------------
# decode (autoregressive generation with a KV cache): analytical
# ------------------------------------------------------------------------------------------------
# Cycle latencies of the cores (their READMEs) used by `decode_model`: FIFO on every consumer input
# (2 cycles when empty, +1 for the width converter / skid register of the hop),
# mx_linear / mx_matmul accumulate (10, pipelined) + output quantizer (12 + a block), mx_quantize
# (12 after a block: 5 stages to the block's scale, the scale FIFO, 5 quantizer stages),
# norm first output (rmsnorm RB + 33, layernorm RB + 36 after the row's last beat, RB = 18 for the generated norms;
# RB + 37 for both before the rmsnorm V pipeline and the rsqrt's normalisation were shortened),
# softmax (row beats + R_F + 28, R_F = 20: two reciprocal units of one bit a cycle; mx_softmax RECIP_BITS 2, not
# generated, takes ceil((R_F + 1) / 2) + 27), dequantize 4, rope 10
# (after half a head), residual 2, swiglu 16, act 10 (ReLU 2): the pipelined non-linear cores
# (cores/NONLINEAR.md).
DECODE_LATENCY = {"fifo": 3, "linear": 22, "quantize": 12, "rmsnorm": 51, "layernorm": 54, "softmax": 48,
                  "dequantize": 4, "rope": 10, "residual": 2, "swiglu": 16, "act": 10}
# The short pipelines (NodeParams.short; cores' SHORT = 1): mx_quantize's first output of an MX block 5 cycles
# after its last beat instead of 12, of a fixed8 stream 3 instead of 5; mx_linear (and the attention products'
# mx_matmul) that, and 2 fewer lane stages (Verilator: tests/cores/test_mx_quantize.py, test_mx_linear.py)
SHORT_SAVES = {"mx": 7, "fixed": 2, "lanes": 2}


def short_saving(n: Node, p: NodeParams, g: DataflowGraph) -> int:
    """Cycles node `n` saves with the short pipelines (0 without them, or for a node without a quantizer)."""
    if not p.short or n.op not in ("linear", "matmul_qk", "matmul_sv", "quantize"):
        return 0
    out = g.edges[n.outputs[0]]
    quant = SHORT_SAVES["fixed" if out.is_fixed or out.fmt == "fixed8" else "mx"]
    return quant + (SHORT_SAVES["lanes"] if n.op != "quantize" else 0)


# nextpnr out of context, MHz, of mx_quantize SHORT 1 per FPGA family: the lowest of mxint4, K 32, PAR 1 (IN_W 24:
# 86.8, IN_W 16: 84.5) and PAR 8 (IN_W 24: 82.9) on the ECP5-85 (SHORT 0: 127.2 at PAR 1, IN_W 24; load 3-4,
# shared 2-core machine). The short pipeline goes where the target's clock is at most SHORT_CLOCK_SHARE of it: a
# core routed inside a whole design keeps about 0.64 of its out-of-context fmax (mase_transpose_pad, f1859f2: 75.0
# MHz alone, 48.35 as the default ECP5 design's critical path), so 0.6: the ECP5-85 at 50 MHz keeps the full
# pipeline (0.6 x 82.9 = 49.7). No figure (iCE40, UltraScale+): the full pipeline. Simulation: always short.
SHORT_FMAX_MHZ: dict[str, float] = {"ecp5": 82.9}
SHORT_CLOCK_SHARE = 0.6


def short_pipeline(target: Any) -> bool:
    """Whether `target`'s designs get the quantizers' short pipeline (mx_quantize SHORT, NodeParams.short)."""
    if _get(target, "kind", "sim") == "sim":
        return True
    fmax = SHORT_FMAX_MHZ.get(str(_get(target, "family", "") or ""))
    return fmax is not None and float(_get(target, "clock_mhz", 100.0)) <= SHORT_CLOCK_SHARE * fmax


def _linear_share(n: Node, p: NodeParams) -> int:
    """G of a linear layer's mx_linear (SHARE 1, cores.map_node): output lanes sharing one aligner, accumulator
    and quantizer lane (the largest divisor of OUT_PAR up to K / IN_PAR)."""
    return resources._share_group(p.out_par, max(1, n.attrs["block"] // p.in_par), 1)


def _share_delay(n: Node, p: NodeParams) -> int:
    """Cycles a row group of mx_linear spends beyond G = 1 when G output lanes share a quantizer lane: its G
    block sums enter the aligner one a cycle, the quantizer takes them NAL a cycle, and G quantizer beats
    are gathered into an output beat (core measurement, 64 x 64 mxint4 at IN_PAR 2, OUT_PAR 32: G 16 -> 31
    cycles after the last input beat; G 1 -> 0)."""
    share = _linear_share(n, p)
    return 2 * share - 1 if share > 1 else 0


def _decode_cycles(n: Node, p: NodeParams, g: DataflowGraph, context: int) -> int:
    """Vector time of `n` for one new token with `context` tokens of KV cache (its own included)."""
    if n.op in ("matmul_qk", "matmul_sv", "softmax"):
        return math.ceil(n.work(g.edges, context) / (p.in_par if n.op != "softmax" else p.lanes))
    if n.op == "quantize" and n.attrs.get("along") == "tokens":
        # V blocked along the tokens: the open block (up to `block` tokens, the new one last) is
        # re-quantized feature by feature for every token, as the prefill RTL's transposer drains;
        # the decode design (g.decode) drains its whole V cache (mase_transpose_pad STEP)
        e = g.edges[n.outputs[0]]
        span = -(-context // e.block) * e.block if g.decode else e.block
        return g.edges[n.inputs[0]].features * span // p.lanes
    beats = [_beats(g.edges[e], p.in_par) for e in n.inputs[:1]] + [_beats(g.edges[e], p.out_par if n.op == "linear"
                                                                            else p.lanes) for e in n.outputs]
    return max([p.cycles_per_token] + beats)


def _product_times(n: Node, p: NodeParams, g: DataflowGraph, times: dict[str, tuple[int, int]], T: int, pos: int,
                   rate: int, v: int) -> tuple[int, int]:
    """First and last output beat of an attention product (mase_attn_matmul) for one row of A per head.

    Each head's mx_matmul loads B whole (one bank), then computes its row of A (v = padded row x RB
    cycles, RB = a head's A beats) once that row has arrived. B: the decode design's K cache
    (CHUNK 1) replays the earlier keys before the new one arrives (hidden behind the layer's linear
    layers) and sends a zero key for every later position after it (KV_HEADS x RB beats each), so
    at position `pos` of a context of T, B is whole (T - 1 - pos) x KV_HEADS x RB cycles after the
    new key. The heads' rows are read in turn, `rate` elements a cycle (OUT_PAR, or fewer when the
    consumer reads fewer: the width converter before it): OUT_PAR > 1 queues two rows per head (a
    head's row leaves in N_PAD / rate cycles); OUT_PAR = 1 sends the head's output stage directly, which holds
    the quantizer's FIFO of blocks (1 << clog2(2 K_OUT + 10) elements, a fixed8 output 1 << clog2(2
    K_OUT + 2)) and about 6 more in the pipeline, so a head whose row is longer than that computes
    the rest only while it is read: (row - held) x RB cycles per head."""
    L = DECODE_LATENCY
    a_in, b_in = (times.get(e, (0, 0)) for e in n.inputs[:2])
    e_a, out = g.edges[n.inputs[0]], g.edges[n.outputs[0]]
    heads, kv = n.attrs.get("heads", 1), n.attrs.get("kv_heads", n.attrs.get("heads", 1))
    rb = -(-(e_a.padded // max(1, heads)) // p.in_par)  # a head's A row (and a B row) in beats
    b_done = b_in[1] + L["fifo"]
    if g.decode and n.op == "matmul_qk":  # the causal prefill's groups send their zero keys in parallel
        b_done += (T - 1 - pos) * (1 if g.prefill else kv) * rb
    row = _matmul_row(n, g)
    beats = -(-row // rate)  # cycles to send a head's row
    blk_out = 0 if out.is_fixed or out.fmt == "fixed8" else -(-out.block // rate)
    if p.out_par > 1:
        period = beats
    else:
        fixed = out.is_fixed or out.fmt == "fixed8"
        held = (1 << (2 * out.block + (2 if fixed else 10) - 1).bit_length()) + (0 if fixed else 6)
        period = max(beats, (row - held) * rb)
    a_row0 = min(a_in[0] + rb - 1, a_in[1]) + L["fifo"]  # the first head's row of A is in
    a_last = a_in[1] + L["fifo"]
    lin = L["linear"] - short_saving(n, p, g)
    tail = v + lin + blk_out
    first = max(a_row0, b_done) + 1 + max(1, blk_out) * rb + lin
    last = max(max(a_last, b_done) + 1 + tail, max(a_row0, b_done) + 1 + tail + (heads - 1) * period)
    return first, last


def _node_pass(nodes: list[Node], times: dict, node_times: Any, bus: "_DmaBus | None" = None) -> dict:
    """Every node's (first, last) output beat in capture (topological) order; with `bus`, a streamed linear
    waits for its weights: its channel's words come from the bus model, which is advanced to the next
    linear that finishes reading its weights each time no other node can be timed (every node not yet
    timed then depends on a linear still reading, so none can start a linear before that one finishes)."""
    if bus is None:
        for n in nodes:
            ft = node_times(n, times)
            for e in n.outputs:
                times[e] = ft
        return times
    import heapq

    order = {n.name: i for i, n in enumerate(nodes)}
    by_name = {n.name: n for n in nodes}
    produced = {e for n in nodes for e in n.outputs}
    consumers: dict[str, list[Node]] = {}
    waiting = {}
    for n in nodes:
        pend = [e for e in n.inputs if e in produced and e not in times]
        waiting[n.name] = len(pend)
        for e in pend:
            consumers.setdefault(e, []).append(n)
    ready = [(order[n.name], n.name) for n in nodes if not waiting[n.name]]
    heapq.heapify(ready)
    left = len(nodes)

    def timed(n: Node, ft: tuple) -> None:
        for e in n.outputs:
            times[e] = ft
            for c in consumers.get(e, ()):
                waiting[c.name] -= 1
                if not waiting[c.name]:
                    heapq.heappush(ready, (order[c.name], c.name))

    while left:
        while ready:
            n = by_name[heapq.heappop(ready)[1]]
            if n.name in bus.channel_of:  # its weights over the bus: timed when the bus model has them all
                bus.start(n.name, *node_times(n, times, phase="start"))
                continue
            timed(n, node_times(n, times))
            left -= 1
        if left:
            done = bus.run_to_completion()
            if not done:
                raise RuntimeError("decode model: a node waits for no streamed linear")
            for name in done:
                timed(by_name[name], node_times(by_name[name], times, bus.done[name]))
                left -= 1
    return times


class _DmaBus:
    """A fluid model of the DMA channels (mx_tb_dma) that feed the streamed linears and the memory port they
    share (mx_tb_mem): `rate` bytes a cycle (memory_model's bytes_per_cycle), shared round robin (max-min
    fair) by the channels with room; each channel buffers up to its `fifo_words` (dma_fifo_words), reading on
    into the next region (the next layer's, the next token's) while its linear waits; a linear drains its
    channel at its lanes' rate (its weight bytes over its vector time) from the cycle its input vector is
    in. Rates are constant between events (a channel full or empty, a linear starting, done, or past its
    first row groups); the bus idles only while every channel is full and no linear reads. The read
    latency is not modelled (the buffers cover its bandwidth-delay product)."""

    EPS = 1e-6

    def __init__(self, g: DataflowGraph, plan: HwPlan, streamed: list[Node]):
        mem = plan.memory
        wb = mem["bus_bits"] // 8
        self.rate = float(mem["bytes_per_cycle"])
        self.channel_of: dict[str, str] = {}
        self.need: dict[str, float] = {}
        self.cap: dict[str, float] = {}
        for n in streamed:
            p = plan.nodes[n.name]
            lay = fold_layer(n.name)
            ch = layer_name(n.name, lay % plan.fold) if plan.fold and lay is not None else n.name
            words = -(-(stream_beats(n, p) * stream_beat_bits(n, p) // 8) // wb)  # the region, whole words
            self.channel_of[n.name] = ch
            self.need[n.name] = float(words * wb)
            self.cap[ch] = float(dma_fifo_words(mem, words) * wb)
        self.level = dict(self.cap)  # every channel full
        self.restart()

    def restart(self) -> None:
        """A new token from cycle 0, the channels' buffers as they are."""
        self.t = 0.0
        self.active: dict[str, dict[str, Any]] = {}
        self.done: dict[str, tuple[float, float]] = {}

    def start(self, name: str, start: int, v: int, first_words: int) -> None:
        need = self.need[name]
        self.active[name] = {"ch": self.channel_of[name], "start": max(float(start), self.t), "left": need,
                             "rate": need / max(1, v), "first": need * min(1.0, first_words / max(1, v)), "t_first": None}

    def _rates(self) -> tuple[dict, dict, dict]:
        eps = self.EPS
        cons: dict[str, str] = {}  # channel -> the linear reading it now (the earliest started)
        for name, c in self.active.items():
            if c["start"] <= self.t + eps:
                cons.setdefault(c["ch"], name)
        demand = {ch: (self.active[cons[ch]]["rate"] if ch in cons else 0.0)
                  if self.level[ch] >= self.cap[ch] - eps else math.inf for ch in self.cap}
        alloc, bw = {}, self.rate
        order = sorted(demand, key=demand.get)
        for i, ch in enumerate(order):  # max-min fair: a full channel takes what its linear drains
            alloc[ch] = min(demand[ch], bw / (len(order) - i))
            bw -= alloc[ch]
        drain = {ch: (self.active[name]["rate"] if self.level[ch] > eps
                      else min(self.active[name]["rate"], alloc[ch])) for ch, name in cons.items()}
        return cons, alloc, drain

    def _advance(self, limit: float) -> list[str]:
        eps = self.EPS
        cons, alloc, drain = self._rates()
        dt = limit - self.t
        for ch in self.cap:
            net = alloc[ch] - drain.get(ch, 0.0)
            if net > eps and self.level[ch] < self.cap[ch] - eps:
                dt = min(dt, (self.cap[ch] - self.level[ch]) / net)
            elif net < -eps and self.level[ch] > eps:
                dt = min(dt, self.level[ch] / -net)
        for ch, name in cons.items():
            c, d = self.active[name], drain[ch]
            if d > eps:
                dt = min(dt, c["left"] / d, *([c["first"] / d] if c["first"] > eps else []))
        for c in self.active.values():
            if c["start"] > self.t + eps:
                dt = min(dt, c["start"] - self.t)
        dt = max(dt, 0.0)
        for ch in self.cap:
            self.level[ch] = min(self.cap[ch], max(0.0, self.level[ch] + (alloc[ch] - drain.get(ch, 0.0)) * dt))
        self.t += dt
        finished = []
        for ch, name in cons.items():
            c, x = self.active[name], drain[ch] * dt
            c["left"] -= x
            if c["first"] > eps:
                c["first"] -= x
                if c["first"] <= eps:
                    c["t_first"] = self.t
            if c["left"] <= eps * max(1.0, self.need[name]):
                finished.append(name)
        for name in finished:
            c = self.active.pop(name)
            self.done[name] = (c["t_first"] if c["t_first"] is not None else self.t, self.t)
        return finished

    def run_to_completion(self) -> list[str]:
        """Advance until a linear has all its weights: those that have (none: no linear reads or waits to)."""
        for _ in range(1_000_000):
            if not self.active:
                return []
            done = self._advance(math.inf)
            if done:
                return done
        raise RuntimeError("decode model: the DMA bus model does not advance")

    def run_to(self, t: float) -> None:
        while self.t < t - self.EPS:
            self._advance(t)


def decode_model(g: DataflowGraph, plan: HwPlan, context: int, region: dict[str, Any] | None = None,
                 edges: bool = False) -> dict[str, Any]:
    """One generated token through a KV-cache decode datapath with the lanes of `plan` (analytical).

    Autoregressive decode of one sequence cannot overlap tokens (token t+1 needs token t's output),
    so batch-1 decode costs the token's latency through every layer, not the pipeline's interval.
    The latency is the longest path of first/last beat times through the graph, per node:
    - buffering nodes (linear layers: the whole input vector is written into a double buffer before
      the first row group; norms: a whole row) start after their input's last beat and emit for their
      vector time `cycles_per_token`; softmax buffers a row (a head's) at a time, rows overlapping;
    - streaming nodes (quantize, dequantize, rope, act, swiglu, residual) pass beats on, their last
      beat no earlier than first + vector time;
    - attention reads the KV cache: Q.K^T and softmax cost context / lanes per head, scores.V
      head_dim x padded context / lanes, each head's row once its B is whole, the heads' rows leaving
      in turn (`_product_times`); the V block that holds the new token is re-quantized along the
      tokens (features x block / lanes). The decode design (g.decode) drains its whole V cache
      (features x padded context / lanes) and Q.K^T's B is whole only after a zero key for each
      position after the new token's (`context` - 1 of g.seq_len): a token costs less the later it
      comes (smollm2-135m mxint8, a design of 256 tokens: 77.3 k cycles a layer at position 2 in
      Verilator, the model 77.3 k; 71.1 k modelled at position 255);
    plus `DECODE_LATENCY` per node. Batched decode (independent sequences) fills the pipeline: one
    token per `ii_cycles` (the slowest node at this context) once `sequences_to_fill` sequences are
    in flight. KV cache: K and V of every layer for `context` tokens in their MX formats (scales
    included), per sequence. On the prefill design a one-token prompt is a decode step with an empty
    cache, which checks the latency term; the decode design (g.decode, mase.compiler.generate) is
    checked by the generate stage's gated simulation. `edges`: also each edge's first and last beat
    ("edge_cycles").
    """
    # the decode design (g.decode) replays its whole K and V caches for every token: its cost is that
    # of its context (g.seq_len), whatever the tokens so far
    T = g.seq_len if g.decode else max(1, int(context))
    # the new token's position in the decode design (its K cache sends zero keys after it)
    pos = min(max(1, int(context)), T) - 1
    times: dict[str, tuple[int, int]] = {}
    nodes = g.nodes
    outputs = list(g.outputs)
    if region is not None:  # a simulated region (manifest): its input ports are fed from cycle 0
        keep = set(region["nodes"])
        nodes = [n for n in g.nodes if n.name in keep]
        for port in region["inputs"]:
            times[port["edge"]] = (0, port["beats"] - 1)
        outputs = [port["edge"] for port in region["outputs"]]
    else:
        first_par = {}
        for n in g.nodes:  # the input port runs at the lanes of its first consumer
            for e in n.inputs:
                first_par.setdefault(e, plan.nodes[n.name].in_par)
        for e in g.inputs:
            times[e] = (0, _beats(g.edges[e], first_par.get(e, 1)) - 1)
    per_layer: dict[int, int] = {}
    L = DECODE_LATENCY

    def blk_out_of(n: Node, p: NodeParams) -> int:
        out = g.edges[n.outputs[0]]
        return 0 if out.is_fixed or out.fmt == "fixed8" else -(-out.block // max(1, p.out_par if n.op == "linear" else p.lanes))

    def node_times(n: Node, times: dict, w: tuple[float, float] | None = None, phase: str = "") -> tuple:
        """(first, last) output beat of `n` from its inputs' times; a streamed linear's `w`: the cycles its
        channel delivered its first row groups' and its last weight word (None: as fast as its lanes);
        phase "start": (start, vector time, first row groups' words) for the bus model."""
        p = plan.nodes[n.name]
        ins = [times[e] for e in n.inputs if e in times] or [(0, 0)]
        f_in, l_in = max(t[0] for t in ins) + L["fifo"], max(t[1] for t in ins) + L["fifo"]
        v = _decode_cycles(n, p, g, T)
        if n.op == "linear" and p.weights == "axi" and plan.memory:
            # a DMA channel unpacks at most one bus word a cycle: a weight stream wider than the bus (the
            # ECP5's 32 bits: 34 bits a cycle of gate/up/down at 8 lanes) streams slower than the lanes compute
            v = max(v, math.ceil(stream_beats(n, p) * stream_beat_bits(n, p) / plan.memory["bus_bits"]))
        if phase == "start":  # a streamed linear's weights: from its start (input vector in), at its lanes' rate
            return l_in + 1, v, max(1, blk_out_of(n, p)) * _beats(g.edges[n.inputs[0]], p.in_par)
        out = g.edges[n.outputs[0]]
        blk_out = 0 if out.is_fixed or out.fmt == "fixed8" else -(-out.block // max(1, p.out_par if n.op == "linear" else p.lanes))
        if n.op in ("matmul_qk", "matmul_sv"):
            cons = [plan.nodes[c].in_par for c in out.consumers if c in plan.nodes]
            first, last = _product_times(n, p, g, times, T, pos, min([p.out_par] + cons), v)
        elif n.op == "linear":
            lin = L["linear"] - short_saving(n, p, g)
            # one row group per in_beats cycles over the buffered vector; the first pass reads each beat as it
            # arrives (mx_linear), so it ends with the last input beat, or in_beats after the first
            in_beats = _beats(g.edges[n.inputs[0]], p.in_par)
            pass0 = max(l_in + 1, f_in + in_beats) - in_beats + 1  # the later passes then run back to back
            first = pass0 + max(1, blk_out) * in_beats + lin + _share_delay(n, p)
            last = pass0 + v + lin + blk_out + _share_delay(n, p)
            if w is not None:  # its weights over the bus (_DmaBus): the first row groups', the last word
                first = max(first, math.ceil(w[0]) + 1 + lin)
                last = max(last, math.ceil(w[1]) + 1 + lin + blk_out)
        elif n.op in ("rmsnorm", "layernorm"):
            first = l_in + 1 + L[n.op]
            last = first + v - 1
        elif n.op == "softmax":
            # a row (NB beats) in, its sum pass, then out (NB + R_F + 28 after its last beat); rows overlap:
            # input, sum and output work on different rows at a beat a cycle (cores/softmax/README.md)
            nb = -(-(g.edges[n.inputs[0]].seg or g.edges[n.inputs[0]].features) // p.lanes)
            first = f_in + 2 * nb - 1 + L["softmax"]
            last = max(l_in + 2 * nb - 1 + L["softmax"], first + v - 1)
        elif n.op == "quantize" and n.attrs.get("along") == "tokens":
            quant = L["quantize"] - short_saving(n, p, g)
            first = l_in + 1 + blk_out + quant
            last = l_in + 1 + v + quant
        elif n.op == "quantize" and blk_out:
            quant = L["quantize"] - short_saving(n, p, g)
            e = g.edges[n.inputs[0]]
            seg_in = -(-min(out.seg or out.block, out.block) // p.lanes)
            first = f_in + seg_in + quant
            last = max(first + v - 1, l_in + quant + blk_out)
        else:
            lat = L.get(n.op, 1) - short_saving(n, p, g)
            if n.op == "act" and n.attrs.get("func") == "relu":
                lat = 2  # mx_activation's ReLU is not pipelined like its gate functions
            if n.op == "rope":
                lat += n.attrs["head_dim"] // 2 // p.lanes
            first = f_in + lat
            last = max(l_in + lat, first + v - 1)
        return first, last

    ii_c = max((_decode_cycles(n, plan.nodes[n.name], g, T) for n in nodes), default=0)
    for n in nodes:
        p = plan.nodes[n.name]
        if n.op == "linear" and p.weights == "axi" and plan.memory:
            ii_c = max(ii_c, math.ceil(stream_beats(n, p) * stream_beat_bits(n, p) / plan.memory["bus_bits"]))
    streamed = [n for n in nodes if n.op == "linear" and plan.nodes[n.name].weights == "axi"]
    base = dict(times)
    compute_times = _node_pass(nodes, dict(base), node_times)
    if plan.memory and streamed and plan.memory.get("fifo_words"):
        # the DMA channels' buffers are finite (hw.dma_fifo_words): the bus idles while every channel is full and
        # no streamed linear reads; a fluid model of the channels and the shared port decides when each
        # linear's weights are in. Steady state of gated decode: the token after one whose channels started full
        bus = _DmaBus(g, plan, streamed)
        first = _node_pass(nodes, dict(base), node_times, bus)
        end = max(first[e][1] for e in outputs) + 1
        bus.run_to(end)
        bus.restart()
        times = _node_pass(nodes, dict(base), node_times, bus)
    else:
        times = compute_times
    for n in nodes:
        per_layer[n.layer] = max(per_layer.get(n.layer, 0), times[n.outputs[0]][1])
    compute = max(compute_times[e][1] for e in outputs) + 1  # the token's path alone (an unlimited bus)
    latency = max(times[e][1] for e in outputs) + 1
    port_times = {e: times[e] for e in outputs}
    # KV cache: the K and V streams entering the attention products, for T tokens
    kv_bits = 0
    for n in g.nodes:
        if n.op in ("matmul_qk", "matmul_sv"):
            e = g.edges[n.inputs[1]]
            bits = _elem_bits(e.fmt)
            scale = 0 if e.is_fixed or e.fmt == "fixed8" else 8 / e.block
            kv_bits += T * e.padded * (bits + scale)
    clock = plan.clock_mhz * 1e6
    tok1, tokb = clock / latency, (clock / ii_c if ii_c else None)
    # weights streamed from off-chip memory (hw weights=axi) are read once per token: a bandwidth cap
    # (the roofline: weight bytes a token over the bandwidth, at most the bus's), and one sequence's
    # token takes at least the bus time of its streams' bytes (the memory image's beats)
    mem_cap = mem_cycles = None
    # KV caches off chip (hw.kv_cache, mase.compiler.kv_offchip): every token reads the earlier tokens'
    # keys and values of every layer and writes its own over the weights' bus, bytes that grow with the context
    kv_mem = (kv_offchip.traffic(g, plan.nodes, plan.memory, pos)
              if g.decode and plan.memory and kv_offchip.layer_kv_offchip(plan.nodes) else None)
    if (plan.offchip_weight_bits or kv_mem) and plan.offchip_gbps_available:
        mem = plan.memory or {}
        bw = mem.get("bandwidth_gbps") or plan.offchip_gbps_available
        kv_bytes = kv_mem["bytes"] if kv_mem and region is None else 0
        mem_cap = bw * 1e9 / (plan.offchip_weight_bits / 8 + kv_bytes)
        if mem:
            by_name = {n.name: n for n in nodes}  # a simulated region: its own streams
            stream = sum(stream_beat_bits(by_name[k], p) * stream_beats(by_name[k], p) // 8
                         for k, p in plan.nodes.items() if p.weights == "axi" and k in by_name) + kv_bytes
            mem_cycles = math.ceil(stream / mem["bytes_per_cycle"]) + mem["latency_cycles"]
            if mem_cycles > latency:
                latency = mem_cycles
                tok1 = clock / latency
        tok1, tokb = min(tok1, mem_cap), (min(tokb, mem_cap) if tokb else tokb)
    return {"source": "analytical", "context": T, "latency_cycles": latency, "ii_cycles": ii_c,
            "sequences_to_fill": math.ceil(latency / ii_c) if ii_c else 1,
            "tokens_per_s_batch1": tok1, "tokens_per_s_batched": tokb, "tokens_per_s_offchip_cap": mem_cap,
            "offchip_stream_cycles": mem_cycles,
            "kv_offchip": kv_mem and {**kv_mem, "position": pos},
            # hw.fold: a token passes the N hardware layers L / N times (the path above is the same L layers
            # in turn), and every pass streams its layer's weights again, every token: batch-1 decode costs
            # the larger of the compute path and the bus time of all L layers' weights (the DMA channels
            # prefetch the next layer's region while the current one computes, so the two overlap)
            "fold": {"passes": plan.passes, "compute_cycles": compute, "memory_cycles": mem_cycles,
                     "bound": "memory" if latency > compute else "compute"} if plan.fold else None,
            "compute_cycles": compute,
            "kv_cache_bits": int(kv_bits), "kv_cache_mb": kv_bits / 8e6,
            "layer_end_cycles": {str(k): v for k, v in sorted(per_layer.items())}, "port_cycles": port_times,
            **({"edge_cycles": dict(times)} if edges else {}),
            "note": "analytical KV-cache decode model (the generate stage simulates the decode design)"}
