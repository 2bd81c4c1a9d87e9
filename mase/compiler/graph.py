"""The dataflow graph `mase` compiles: nodes (hardware operators) and edges (streams of tensors).

Captured from a Hugging Face decoder by a transformers-aware walk (OPT and LLaMA families), not by
tracing: every decoder layer is read module by module, and each module must map onto a core of the
MX library, else `capture` raises a one-line MaseError naming the operator and the layer.

    >>> from mase.compiler.graph import capture
    >>> g = capture(model, cfg.quant, seq_len=8)       # model: a loaded (float or quantized) HF model
    >>> print(g.summary())

Scope: the decoder stack plus the final norm. The token embedding (a table lookup) and `lm_head`
(kept in float by the quant config's default `exclude`) run on the host: the accelerator's input
stream is the embedded prompt in the residual format, its output stream the final norm's output.

Edges carry, per token, a vector of `features` elements (segments of `seg` elements each quantized
on their own: one attention head = one segment) in one format:
- ``fixed<W>_<F>``: W-bit two's complement with F fraction bits (the non-linear cores' formats:
  the widths of the golden model's defaults, the fraction bits of the streams into the RoPE,
  activation and SwiGLU cores and of their outputs chosen from the model's calibrated ranges,
  ``stream_format``; the values they clip are counted by ``mase.compiler.golden.count_saturations``);
- an MX format name (``mxint4``, ``mxfp8_e4m3``, ...) with a block size, or ``fixed8``: int8 (Q1.6)
  elements streamed like MX blocks but under one constant scale byte (`Edge.scale`), the exponent
  frozen by calibration (mase.quantize.calibrate). A fixed8 layer's output stream is fixed8 too
  (its calibrated `out` scale): an 8-bit fixed-point design uses no MX anywhere.
Wherever a producer's format differs from what a consumer needs, `capture` inserts an explicit
conversion node (``quantize``: fixed -> MX, ``dequantize``: MX -> fixed).
"""

from __future__ import annotations

import contextvars
import copy
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch
from torch import nn

from mase.errors import MaseError

# the fixed-point formats of the non-linear cores (golden defaults, sized on smollm2-135m)
RESID = ("fixed", 32, 16)  # residual stream, norm input
ACT_IN = ("fixed", 20, 12)  # activation / swiglu inputs
ROPE = ("fixed", 16, 10)
SCORES = ("fixed", 20, 10)  # softmax input
PROBS = ("fixed", 18, 16)  # softmax output: unsigned Q.16, carried as 18-bit signed
SWIGLU_OUT = ("fixed", 24, 10)
ACT_OUT = ("fixed", 20, 12)
# The fraction bits of the streams a calibrated model feeds into fixed-point cores (q/k/v, the
# attention context, gate/up/fc1 outputs, SwiGLU and activation outputs) come from the calibrated
# ranges (model.mase_ranges, mase.quantize.calibrate): `stream_format` keeps the width above and puts
# 2**HEADROOM_BITS * max|x| just inside it. RESID (the norm core's input, a fixed configuration) and the
# softmax formats stay as they are; the golden model counts every value clipped on any fixed-point
# stream (mase.compiler.golden.count_saturations), and the reports show the counts.
HEADROOM_BITS = 1
GATE_MIN_F = 4  # the SiLU/GELU gate table steps 1/16: an activation input keeps >= 4 fraction bits


ACC_W, ACC_LSB = 32, -20  # the cores' accumulator width and its default LSB (no calibrated range)


def acc_lsb(amax: float | None) -> int:
    """LSB of a linear layer's ACC_W-bit accumulator such that 2**HEADROOM_BITS * max|output| fits
    (e.g. SmolLM2's 24,726 on layer 11's down_proj needs 2**-15; the default 2**-20 saturated at 2048)."""
    if not amax or not math.isfinite(amax):
        return ACC_LSB
    return math.floor(math.log2(amax)) + 1 + HEADROOM_BITS - (ACC_W - 1)


def stream_format(default: tuple, amax: float | None, min_f: int = 0) -> tuple:
    """`default`'s width, fraction bits such that 2**HEADROOM_BITS * amax fits (default if no range)."""
    if not amax or not math.isfinite(amax):
        return default
    _, w, _ = default
    return ("fixed", w, max(min_f, w - 2 - math.floor(math.log2(amax)) - HEADROOM_BITS))


# output format of the linear layers and of the attention matmuls when the consumer is a
# fixed-point core (re-quantized by the core, then dequantized): configurable as hw.linear_out
DEFAULT_LINEAR_OUT = "mxint8"

OPS = ("linear", "matmul_qk", "matmul_sv", "softmax", "rmsnorm", "layernorm", "act", "swiglu", "residual",
       "rope", "quantize", "dequantize")


def fixed_name(w: int, f: int) -> str:
    return f"fixed{w}_{f}"


@dataclass
class Edge:
    """One stream: per token a vector of `features` elements in format `fmt`."""

    name: str
    features: int
    fmt: str  # fixed<W>_<F> | mx format name | fixed8
    block: int = 32  # MX block size (ignored for fixed point)
    seg: int = 0  # quantization segment length (0 = the whole vector), e.g. head_dim
    scale: int = -1  # fixed8: the constant E8M0 byte (int8 Q1.6 codes * 2**(scale - 127)); -1 = MX
    producer: str = ""
    consumers: list[str] = field(default_factory=list)

    @property
    def is_fixed(self) -> bool:
        return self.fmt.startswith("fixed") and self.fmt != "fixed8"

    @property
    def fixed(self) -> tuple[int, int]:
        w, f = self.fmt[len("fixed"):].split("_")
        return int(w), int(f)

    @property
    def padded(self) -> int:
        """Elements per token on the stream (each segment padded to whole blocks for MX)."""
        if self.is_fixed:
            return self.features
        seg = self.seg or self.features
        return (self.features // seg) * (-(-seg // self.block) * self.block)


@dataclass
class Node:
    name: str
    op: str
    layer: int  # decoder layer index; -1 for the final norm
    module: str  # the HF module it came from ("" for conversions)
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    def work(self, edges: dict[str, Edge], seq_len: int) -> int:
        """Operations per token (MACs for products, elements otherwise): the work lanes share."""
        a = self.attrs
        if self.op == "linear":  # the core computes the zero-padded rows and blocks too
            k = a["block"]
            return (-(-a["in_features"] // k) * k) * (-(-a["out_features"] // k) * k)
        if self.op in ("matmul_qk", "matmul_sv"):
            # per head (the heads run in parallel instances): a row of N outputs over a padded reduction
            # output rows padded to whole output blocks (zero rows the core computes too)
            k = a["block"]
            rows = seq_len if self.op == "matmul_qk" else a["head_dim"]
            red = a["head_dim"] if self.op == "matmul_qk" else seq_len
            ko = out_block(k, rows)
            return (-(-rows // ko) * ko) * (-(-red // k) * k)
        if self.op == "softmax":
            return a["heads"] * seq_len
        e = edges[self.inputs[0]]
        return e.padded if not e.is_fixed else e.features


@dataclass
class DataflowGraph:
    model: str
    family: str
    seq_len: int
    hidden: int
    layers: int
    nodes: list[Node] = field(default_factory=list)
    edges: dict[str, Edge] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    quant: str = ""
    # the KV-cache decode design (mase.compiler.decode): one token at a time, seq_len = its context
    # (K and V caches), the golden model's causal numerics (run_graph(causal=True))
    decode: bool = False
    # hw.attention=causal: that datapath fed the whole prompt of seq_len tokens (the prefill design), not
    # one token at a time (the generate stage's decode design); names the design in the generated RTL
    prefill: bool = False

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def add_edge(self, name: str, features: int, fmt: str, block: int = 32, seg: int = 0, scale: int = -1) -> str:
        if name in self.edges:
            raise ValueError(f"edge {name} defined twice")
        self.edges[name] = Edge(name, features, fmt, block, seg, scale)
        return name

    def add(self, name: str, op: str, layer: int, module: str, inputs: list[str], outputs: list[str], **attrs) -> Node:
        n = Node(name, op, layer, module, list(inputs), list(outputs), attrs)
        for e in inputs:
            self.edges[e].consumers.append(name)
        for e in outputs:
            self.edges[e].producer = name
        self.nodes.append(n)
        return n

    def to_dict(self, weights: bool = False) -> dict[str, Any]:
        def clean(a):
            return {k: v for k, v in a.items() if weights or not isinstance(v, torch.Tensor)}

        return {"model": self.model, "family": self.family, "quant": self.quant, "seq_len": self.seq_len,
                **({"decode": True} if self.decode else {}),
                "hidden": self.hidden, "layers": self.layers, "inputs": self.inputs, "outputs": self.outputs,
                "nodes": [{**{f.name: copy.deepcopy(getattr(n, f.name)) for f in fields(n) if f.name != "attrs"},
                           "attrs": clean(n.attrs)} for n in self.nodes],  # asdict would deep-copy the weights
                "edges": {k: asdict(e) for k, e in self.edges.items()}}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n.op] = out.get(n.op, 0) + 1
        return out

    def summary(self) -> str:
        c = ", ".join(f"{k} {v}" for k, v in sorted(self.counts().items()))
        return (f"{self.model} ({self.family}): {self.layers} decoder layers, {len(self.nodes)} nodes "
                f"({c}), {len(self.edges)} edges, prompt of {self.seq_len} tokens")


# ------------------------------------------------------------------------------------------------
# capture
# ------------------------------------------------------------------------------------------------
def _fmt_name(f) -> str:
    return f.name if hasattr(f, "name") else str(f)


# capture(structure_only=True): the graph's shape before calibration (the pipeline's up-front check)
_STRUCTURE_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("structure_only", default=False)


def _scale_byte(f, where: str) -> int:
    """The constant scale byte of a fixed8 stream (-1 for MX): from the calibrated exponent."""
    if _fmt_name(f) != "fixed8":
        return -1
    if not getattr(f, "static", False):
        if _STRUCTURE_ONLY.get():
            return 127  # a placeholder: calibration picks the byte later
        raise MaseError(f"{where}: fixed8 activations need calibrated static scales: run the quantize stage "
                        f"with the model (stages=[quantize,emit,...])")
    return 127 + f.scale_exp  # codes * 2**(exp - 6) = Q1.6 codes * 2**(byte - 127)


def _out_stream(out_fmt, operand_fmt, linear_out: str, where: str) -> tuple[str, int]:
    """(format, scale byte) of a linear/matmul output: fixed8 after fixed8 operands, else hw.linear_out."""
    if _fmt_name(operand_fmt) != "fixed8":
        return linear_out, -1
    if out_fmt is None:
        if _STRUCTURE_ONLY.get():
            return "fixed8", 127
        raise MaseError(f"{where}: fixed8 outputs need calibrated static scales: run the quantize stage with "
                        f"the model (stages=[quantize,emit,...])")
    return "fixed8", _scale_byte(out_fmt, where)


def _shifted(fmt, shift: int):
    """A calibrated fixed8 format for values 2**shift times larger (MX and None unchanged)."""
    return replace(fmt, scale_exp=fmt.scale_exp + shift) if getattr(fmt, "static", False) else fmt


def _weight_scale(fmt, w: torch.Tensor) -> int:
    """Constant scale byte of fixed8 weights (their own per-tensor exponent), -1 for MX weights."""
    return 127 + fmt.exponent(w.detach().float()) if _fmt_name(fmt) == "fixed8" else -1


class _Builder:
    def __init__(self, g: DataflowGraph, plans: dict, hw: Any):
        self.g, self.plans, self.hw = g, plans, hw
        self.linear_out = getattr(hw, "linear_out", None) or DEFAULT_LINEAR_OUT
        self._conv: dict[tuple, str] = {}  # one conversion per (source, format): q/k/v share theirs
        self.ranges: dict[str, dict[str, float]] = {}  # calibrated max |x| per module ("in", "out", "rot")
        self.norm_max: dict[str, tuple[float, float]] = {}  # hw.fold: (max |gain|, max |bias|) over the layers

    def fmt(self, default: tuple, module: str, key: str, min_f: int = 0) -> tuple:
        """The format of the stream at `module`'s `key` side: sized from its calibrated range."""
        return stream_format(default, self.ranges.get(module, {}).get(key), min_f)

    def edge(self, name, features, fmt, block=32, seg=0, scale=-1):
        if isinstance(fmt, tuple):
            fmt = fixed_name(fmt[1], fmt[2])
        return self.g.add_edge(name, features, fmt, block, seg, scale)

    def to_fixed(self, src: str, layer: int, fmt: tuple, name: str, out_shift: int = 0) -> str:
        """Insert mx -> fixed (dequantize) so that `src` reaches a fixed-point consumer as `fmt`.

        out_shift: the value is multiplied by 2**-out_shift on the way (a power-of-two scaling)."""
        e = self.g.edges[src]
        out = self.edge(name, e.features, fmt, e.block, e.seg)
        self.g.add(f"{name}.deq", "dequantize", layer, "", [src], [out], out_w=fmt[1], out_f=fmt[2],
                   shift=out_shift)
        return out

    def to_mx(self, src: str, layer: int, fmt, block: int, name: str, seg: int = 0) -> str:
        """Insert fixed -> MX (or -> fixed8 under its calibrated scale) for format object or name `fmt`."""
        scale = _scale_byte(fmt, f"layer {layer}: {name}")
        fmt = _fmt_name(fmt)
        key = (src, fmt, block, seg, scale)
        if key in self._conv:
            return self._conv[key]
        e = self.g.edges[src]
        out = self.edge(name, e.features, fmt, block, seg, scale)
        self.g.add(f"{name}.q", "quantize", layer, "", [src], [out])
        self._conv[key] = out
        return out

    # ------------------------------------------------------------------ operators
    def linear(self, mod: nn.Module, mname: str, layer: int, x_fixed: str, out_name: str) -> str:
        plan = self.plans.get(mname)
        if plan is None or plan.spec is None:
            why = "kept in float by the quant config" if plan is not None else "not planned"
            raise MaseError(f"layer {layer}: operator Linear ({mname}) is {why}; the hardware needs an MX or "
                            f"fixed8 format: remove it from quant.exclude")
        spec = plan.spec
        w = mod.weight if hasattr(mod, "weight") else None
        x = self.to_mx(x_fixed, layer, spec.act, spec.block_size, f"{out_name}.x")
        ofmt, oscale = _out_stream(spec.out, spec.act, self.linear_out, f"layer {layer}: operator Linear ({mname})")
        out = self.edge(out_name + ".mx", mod.out_features, ofmt, spec.block_size, scale=oscale)
        self.g.add(mname, "linear", layer, mname, [x], [out], in_features=mod.in_features,
                   out_features=mod.out_features, weight_fmt=_fmt_name(spec.weight), act_fmt=_fmt_name(spec.act),
                   w_scale=_weight_scale(spec.weight, w) if w is not None else -1,
                   bias_fmt=_fmt_name(spec.bias), block=spec.block_size, has_bias=mod.bias is not None,
                   acc_lsb=acc_lsb(self.ranges.get(mname, {}).get("out")), acc_w=ACC_W,
                   weight=w.detach() if w is not None else None,
                   bias=mod.bias.detach() if mod.bias is not None else None)
        return out

    def norm(self, mod: nn.Module, mname: str, layer: int, x: str, out_name: str) -> str:
        from mase.golden import nonlinear as G

        cls = type(mod).__name__
        cfg = G.NormConfig()
        n = self.g.edges[x].features
        if isinstance(mod, nn.LayerNorm) or cls == "HwLayerNorm":  # HwLayerNorm: quant.nonlinear.layernorm=hw
            op, eps, bias = "layernorm", float(mod.eps), mod.bias
        elif cls.endswith("RMSNorm"):
            op, eps, bias = "rmsnorm", float(getattr(mod, "variance_epsilon", getattr(mod, "eps", 1e-6))), None
        else:
            raise MaseError(f"layer {layer}: operator {cls} ({mname}) has no hardware core (norms: LayerNorm, RMSNorm)")
        w = mod.weight.detach() if getattr(mod, "weight", None) is not None else torch.ones(n)
        w_max = float(w.abs().max())
        b_max = float(bias.detach().abs().max()) if bias is not None else 0.0
        # hw.fold: one hardware norm computes every layer's, so its gain and output formats hold all of them
        w_max, b_max = self.norm_max.get(_LAYER_NUM.sub(".layers.*.", mname), (w_max, b_max))
        g_f = G.auto_frac(torch.tensor([w_max]), cfg.g_w)
        bound = math.sqrt(n) * w_max + b_max
        out_f = cfg.out_w - 2 - math.floor(math.log2(max(bound, 1e-30)))
        out = self.edge(out_name, n, ("fixed", cfg.out_w, out_f))
        self.g.add(mname, op, layer, mname, [x], [out], features=n, eps=eps, g_f=g_f, out_f=out_f,
                   eps_code=G.norm_eps_code(n, eps, cfg.in_f, cfg.sq_shift), gamma=w,
                   beta=bias.detach() if bias is not None else None)
        return out


def _rope_freqs(model: nn.Module) -> tuple[int, ...]:
    """The rope core's FREQ table: the model's inv_freq as transformers computes it (any theta, scaled
    RoPE types that only change the frequencies; one-line MaseError for the others)."""
    from mase.golden.nonlinear_tables import rope_freqs

    # the float rotary module (nonlinear_patch's IdentityRotary keeps it as a child)
    rot = next((m for m in model.modules() if type(m).__name__.endswith("RotaryEmbedding")), None)
    if rot is None:
        raise MaseError(f"layer 0: operator RoPE ({type(model).__name__}) has no rotary embedding module to read "
                        f"its frequencies from")
    return rope_freqs(rot)


def _attention(b: _Builder, attn: nn.Module, aname: str, layer: int, x: str, family: str, conf) -> str:
    """q/k/v projections, RoPE (LLaMA), Q.K^T, causal softmax, scores.V, output projection."""
    g = b.g
    heads = conf.num_attention_heads
    kv_heads = getattr(conf, "num_key_value_heads", None) or heads
    hd = getattr(conf, "head_dim", None) or conf.hidden_size // heads
    from mase.golden import nonlinear as G

    # scaling = 2**-shift * c, c in (0.5, 1]: the scores are shifted on the way to the softmax and c is
    # folded into the softmax's exp unit (its log2(e) multiplier), so any head_dim maps
    shift, c = G.split_scaling(float(getattr(attn, "scaling", hd**-0.5)))
    log2e_q = G.softmax_log2e_q(c)
    plan = b.plans.get(aname)
    if plan is None or plan.spec is None:
        raise MaseError(f"layer {layer}: operator attention matmul ({aname}) is kept in float; the hardware needs "
                        f"MX formats: set quant.attention.enabled=true and remove it from quant.exclude")
    spec = plan.spec
    names = ("q_proj", "k_proj", "v_proj", "o_proj" if family == "llama" else "out_proj")
    for n in names:
        if not isinstance(getattr(attn, n, None), nn.Module):
            raise MaseError(f"layer {layer}: operator {type(attn).__name__} ({aname}) lacks {n}; cannot be mapped")
    p = f"{aname}"
    q = b.linear(attn.q_proj, f"{p}.q_proj", layer, x, f"{p}.q")
    k = b.linear(attn.k_proj, f"{p}.k_proj", layer, x, f"{p}.k")
    v = b.linear(attn.v_proj, f"{p}.v_proj", layer, x, f"{p}.v")
    if family == "llama":  # RoPE keeps the format of its input (a rotation bounded by the pair norm)
        q_fmt, k_fmt = b.fmt(ROPE, f"{p}.q_proj", "rot"), b.fmt(ROPE, f"{p}.k_proj", "rot")
        qf = b.to_fixed(q, layer, q_fmt, f"{p}.q.fx")
        kf = b.to_fixed(k, layer, k_fmt, f"{p}.k.fx")
        qr = b.edge(f"{p}.q.rot", heads * hd, q_fmt, seg=hd)
        kr = b.edge(f"{p}.k.rot", kv_heads * hd, k_fmt, seg=hd)
        freqs = b.rope_freqs  # pair i rotates by pos * freqs[i] (Q0.32 turns)
        if len(freqs) != hd // 2:
            raise MaseError(f"layer {layer}: operator RoPE ({aname}) has {len(freqs)} frequencies for a head of {hd}")
        g.add(f"{p}.rope_q", "rope", layer, aname, [qf], [qr], heads=heads, head_dim=hd, freqs=freqs)
        g.add(f"{p}.rope_k", "rope", layer, aname, [kf], [kr], heads=kv_heads, head_dim=hd, freqs=freqs)
        qm = b.to_mx(qr, layer, spec.query, spec.block_size, f"{p}.q.mx2", seg=hd)
        km = b.to_mx(kr, layer, spec.key, spec.block_size, f"{p}.k.mx2", seg=hd)
    else:  # OPT: the projections feed the matmul directly (re-quantized per head)
        qf = b.to_fixed(q, layer, b.fmt(ROPE, f"{p}.q_proj", "out"), f"{p}.q.fx")
        kf = b.to_fixed(k, layer, b.fmt(ROPE, f"{p}.k_proj", "out"), f"{p}.k.fx")
        # HF OPT scales q by 1/sqrt(d) before the matmul, the hardware scales the scores instead: the
        # calibrated fixed8 exponents of q and of Q.K^T move by log2(sqrt(d)) rounded up (the same codes
        # when 1/sqrt(d) is a power of two; one more bit for 1/c in [1, 2) otherwise)
        up = shift + (c < 1.0)
        spec = replace(spec, query=_shifted(spec.query, up), qk_out=_shifted(spec.qk_out, up))
        qm = b.to_mx(qf, layer, spec.query, spec.block_size, f"{p}.q.mx2", seg=hd)
        km = b.to_mx(kf, layer, spec.key, spec.block_size, f"{p}.k.mx2", seg=hd)
    vf = b.to_fixed(v, layer, b.fmt(ROPE, f"{p}.v_proj", "out"), f"{p}.v.fx")
    # V is blocked along tokens (scores.V contracts over them): the matmul core re-blocks it
    vm = b.to_mx(vf, layer, spec.value, spec.block_size, f"{p}.v.mx2", seg=hd)
    g.nodes[-1].attrs["along"] = "tokens"
    T = g.seq_len
    where = f"layer {layer}: operator attention matmul ({aname})"
    s_fmt, s_scale = _out_stream(spec.qk_out, spec.query, b.linear_out, where)
    s_mx = b.edge(f"{p}.scores.mx", heads * T, s_fmt, out_block(spec.block_size, T), seg=T, scale=s_scale)
    g.add(f"{p}.qk", "matmul_qk", layer, aname, [qm, km], [s_mx], heads=heads, kv_heads=kv_heads, head_dim=hd,
          block=spec.block_size, q_fmt=_fmt_name(spec.query), k_fmt=_fmt_name(spec.key), causal=True)
    s_fx = b.to_fixed(s_mx, layer, SCORES, f"{p}.scores.fx", out_shift=shift)
    probs = b.edge(f"{p}.probs", heads * T, PROBS, seg=T)
    g.add(f"{p}.softmax", "softmax", layer, aname, [s_fx], [probs], heads=heads, causal=True, log2e_q=log2e_q)
    pm = b.to_mx(probs, layer, spec.scores, spec.block_size, f"{p}.probs.mx", seg=T)
    o_fmt, o_scale = _out_stream(spec.sv_out, spec.scores, b.linear_out, where)
    o_mx = b.edge(f"{p}.ctx.mx", heads * hd, o_fmt, out_block(spec.block_size, hd), seg=hd, scale=o_scale)
    g.add(f"{p}.sv", "matmul_sv", layer, aname, [pm, vm], [o_mx], heads=heads, kv_heads=kv_heads, head_dim=hd,
          block=spec.block_size, p_fmt=_fmt_name(spec.scores), v_fmt=_fmt_name(spec.value))
    ctx = b.to_fixed(o_mx, layer, b.fmt(ACT_IN, f"{p}.{names[3]}", "in"), f"{p}.ctx.fx")
    o = b.linear(getattr(attn, names[3]), f"{p}.{names[3]}", layer, ctx, f"{p}.o")
    return b.to_fixed(o, layer, RESID, f"{p}.o.fx")


def out_block(block: int, seg: int) -> int:
    """Output block of a matmul row of `seg` values: the quant block, or the largest MX block size
    dividing a shorter row, else the smallest (8: a row of any length is padded by fewer than 8 zeros,
    which the hardware computes, e.g. the score row of a 1-token prompt)."""
    if seg % block == 0:
        return block
    for k in (32, 16, 8):
        if k <= block and seg % k == 0:
            return k
    return min(8, block)


def _check_children(layer_mod: nn.Module, lname: str, layer: int, known: set[str]) -> None:
    for cname, child in layer_mod.named_children():
        if cname not in known and not isinstance(child, (nn.Dropout, nn.Identity)):
            raise MaseError(f"layer {layer}: operator {type(child).__name__} ({lname}.{cname}) has no hardware core")


def _act_name(mod: nn.Module, mname: str, layer: int) -> str:
    cls = type(mod).__name__
    if cls == "HwActivation":  # quant.nonlinear.<func>=hw: the same function, hardware-exact
        return mod.func
    for func, names in {"relu": ("ReLU", "ReLUActivation"), "silu": ("SiLU", "SiLUActivation"),
                        "gelu": ("GELU", "GELUActivation")}.items():
        if cls in names:
            return func
    raise MaseError(f"layer {layer}: operator {cls} ({mname}) has no hardware core (activations: ReLU, GELU, SiLU)")


def _unmapped(model: nn.Module) -> str:
    """The refusal of a family without a mapping: the first operator of its layer 0 that no core computes
    (Gemma 3: the per-head RMSNorm of q and k), else the family."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    attn = getattr(layers[0], "self_attn", None) if layers is not None and len(layers) else None
    if attn is not None and getattr(attn, "q_norm", None) is not None:
        return (f"layer 0: operator QK-norm ({type(attn.q_norm).__name__} of each query and key head, "
                f"model.layers.0.self_attn.q_norm) has no hardware core (families mapped: OPT, LLaMA); for its "
                f"accuracy alone: stages=[quantize,evaluate,report]")
    return (f"layer 0: operator {type(model).__name__} ({getattr(model.config, 'model_type', '?')} family) has no "
            f"hardware mapping; families: OPT, LLaMA")


_LAYER_NUM = re.compile(r"\.layers\.\d+\.")


def _shared_norm_max(model: nn.Module) -> dict[str, tuple[float, float]]:
    """Layer reuse (hw.fold): per decoder-layer norm (model.layers.*.input_layernorm, ...), the largest
    |gain| and |bias| over the layers, from which its gain format (G_F) and output format are chosen, so
    that the hardware layer's norm (and the golden model, which reads the same node attributes) holds
    every layer's gains bit-exactly. Norms outside the layers (the final norm) keep their own."""
    shared: dict[str, tuple[float, float]] = {}
    for name, mod in model.named_modules():
        key = _LAYER_NUM.sub(".layers.*.", name + ".")[:-1]
        w = getattr(mod, "weight", None)
        if key == name or w is None or not (isinstance(mod, nn.LayerNorm) or type(mod).__name__.endswith(
                ("RMSNorm", "HwLayerNorm"))):
            continue
        bias = getattr(mod, "bias", None)
        w_max = float(w.detach().abs().max())
        b_max = float(bias.detach().abs().max()) if bias is not None else 0.0
        old = shared.get(key, (w_max, b_max))
        shared[key] = (max(old[0], w_max), max(old[1], b_max))
    return shared


def _shared_ranges(ranges: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Layer reuse (hw.fold): the calibrated ranges of every decoder layer's module merged (the largest),
    so that each layer gets the same stream formats and accumulator windows, those of the hardware layer
    that computes them all (a format chosen for the largest range also holds the smaller ones)."""
    merged: dict[str, dict[str, float]] = {}
    for name, r in ranges.items():
        m = merged.setdefault(_LAYER_NUM.sub(".layers.*.", name), {})
        for k, v in r.items():
            m[k] = max(m.get(k, v), v)
    return {name: merged[_LAYER_NUM.sub(".layers.*.", name)] for name in ranges}


def capture(model: nn.Module, quant_cfg: Any, seq_len: int = 8, hw: Any = None, model_name: str | None = None,
            structure_only: bool = False) -> DataflowGraph:
    """The dataflow graph of `model`'s decoder under `quant_cfg` (a QuantConfig node or a name).
    structure_only: the float model's graph before calibration (fixed8 scale bytes are placeholders),
    to refuse an unmappable model before any work."""
    token = _STRUCTURE_ONLY.set(structure_only)
    try:
        return _capture(model, quant_cfg, seq_len, hw, model_name)
    finally:
        _STRUCTURE_ONLY.reset(token)


def _capture(model: nn.Module, quant_cfg: Any, seq_len: int, hw: Any, model_name: str | None) -> DataflowGraph:
    from mase.quantize.plan import plan_layers

    if isinstance(quant_cfg, str):
        from mase.config import load_group

        quant_cfg = load_group("quant", quant_cfg)
    conf = model.config
    family = {"llama": "llama", "opt": "opt"}.get(getattr(conf, "model_type", ""), None)
    name = model_name or getattr(conf, "name_or_path", "") or type(model).__name__
    if family is None:
        raise MaseError(_unmapped(model))
    plans = getattr(model, "mase_plan", None) or plan_layers(_unquantized_view(model), quant_cfg, name)
    plans = {p.name: p for p in plans}
    from mase.provenance import quant_label

    # the formats' label (mxint4(w:mxint5) when overridden), in graph.json and the generated RTL's comments
    g = DataflowGraph(name, family, seq_len, conf.hidden_size, conf.num_hidden_layers, quant=quant_label(quant_cfg))
    b = _Builder(g, plans, hw)
    b.ranges = getattr(model, "mase_ranges", None) or {}
    fold = hw.get("fold", 0) if hw is not None and hasattr(hw, "get") else 0
    # auto is resolved to a number before capture (fold_choice.resolve_fold); left as auto (a decode
    # graph, which is never folded, or a structure-only one) the layers keep their own formats
    if fold != "auto" and int(fold or 0):
        b.ranges = _shared_ranges(b.ranges)  # one hardware layer computes several layers: one set of formats
        b.norm_max = _shared_norm_max(model)  # and one norm gain / output format per norm of the layer
    H = conf.hidden_size
    x = b.edge("embed", H, RESID)
    g.inputs.append(x)
    if family == "llama":
        b.rope_freqs = _rope_freqs(model)
        layers, final_norm, prefix = model.model.layers, model.model.norm, "model.layers"
        fname = "model.norm"
    else:
        dec = model.model.decoder
        if not getattr(conf, "do_layer_norm_before", True):
            raise MaseError("layer 0: operator post-LayerNorm OPT (do_layer_norm_before=false, opt-350m) has no "
                            "hardware mapping; pre-norm OPT models only")
        if getattr(dec, "project_in", None) is not None or getattr(dec, "project_out", None) is not None:
            raise MaseError("layer 0: operator project_in/project_out (word_embed_proj_dim != hidden_size) has no "
                            "hardware mapping")
        layers, final_norm, prefix = dec.layers, dec.final_layer_norm, "model.decoder.layers"
        fname = "model.decoder.final_layer_norm"
    for i, lay in enumerate(layers):
        ln = f"{prefix}.{i}"
        if family == "llama":
            _check_children(lay, ln, i, {"self_attn", "mlp", "input_layernorm", "post_attention_layernorm"})
            n1 = b.norm(lay.input_layernorm, f"{ln}.input_layernorm", i, x, f"{ln}.n1")
            a = _attention(b, lay.self_attn, f"{ln}.self_attn", i, n1, family, conf)
            r1 = b.edge(f"{ln}.r1", H, RESID)
            g.add(f"{ln}.residual_attn", "residual", i, ln, [x, a], [r1], features=H)
            n2 = b.norm(lay.post_attention_layernorm, f"{ln}.post_attention_layernorm", i, r1, f"{ln}.n2")
            mlp = lay.mlp
            _check_children(mlp, f"{ln}.mlp", i, {"gate_proj", "up_proj", "down_proj", "act_fn"})
            if _act_name(mlp.act_fn, f"{ln}.mlp.act_fn", i) != "silu":
                raise MaseError(f"layer {i}: operator gated {type(mlp.act_fn).__name__} ({ln}.mlp) has no hardware "
                                f"core (gated MLP: SwiGLU only)")
            gp = b.linear(mlp.gate_proj, f"{ln}.mlp.gate_proj", i, n2, f"{ln}.gate")
            up = b.linear(mlp.up_proj, f"{ln}.mlp.up_proj", i, n2, f"{ln}.up")
            gf = b.to_fixed(gp, i, b.fmt(ACT_IN, f"{ln}.mlp.gate_proj", "out", GATE_MIN_F), f"{ln}.gate.fx")
            uf = b.to_fixed(up, i, b.fmt(ACT_IN, f"{ln}.mlp.up_proj", "out"), f"{ln}.up.fx")
            hsw = b.edge(f"{ln}.swiglu", mlp.gate_proj.out_features, b.fmt(SWIGLU_OUT, f"{ln}.mlp.down_proj", "in"))
            g.add(f"{ln}.mlp.swiglu", "swiglu", i, f"{ln}.mlp", [gf, uf], [hsw], features=mlp.gate_proj.out_features)
            d = b.linear(mlp.down_proj, f"{ln}.mlp.down_proj", i, hsw, f"{ln}.down")
            df = b.to_fixed(d, i, RESID, f"{ln}.down.fx")
        else:
            _check_children(lay, ln, i, {"self_attn", "self_attn_layer_norm", "activation_fn", "fc1", "fc2",
                                         "final_layer_norm"})
            n1 = b.norm(lay.self_attn_layer_norm, f"{ln}.self_attn_layer_norm", i, x, f"{ln}.n1")
            a = _attention(b, lay.self_attn, f"{ln}.self_attn", i, n1, family, conf)
            r1 = b.edge(f"{ln}.r1", H, RESID)
            g.add(f"{ln}.residual_attn", "residual", i, ln, [x, a], [r1], features=H)
            n2 = b.norm(lay.final_layer_norm, f"{ln}.final_layer_norm", i, r1, f"{ln}.n2")
            h1 = b.linear(lay.fc1, f"{ln}.fc1", i, n2, f"{ln}.fc1o")
            func = _act_name(lay.activation_fn, f"{ln}.activation_fn", i)
            hf = b.to_fixed(h1, i, b.fmt(ACT_IN, f"{ln}.fc1", "out", GATE_MIN_F), f"{ln}.fc1o.fx")
            ha = b.edge(f"{ln}.act", lay.fc1.out_features, b.fmt(ACT_OUT, f"{ln}.fc2", "in"))
            g.add(f"{ln}.activation_fn", "act", i, f"{ln}.activation_fn", [hf], [ha], func=func,
                  features=lay.fc1.out_features)
            d = b.linear(lay.fc2, f"{ln}.fc2", i, ha, f"{ln}.fc2o")
            df = b.to_fixed(d, i, RESID, f"{ln}.fc2o.fx")
        x = b.edge(f"{ln}.out", H, RESID)
        g.add(f"{ln}.residual_mlp", "residual", i, ln, [r1, df], [x], features=H)
    out = b.norm(final_norm, fname, -1, x, "final_norm")
    g.outputs.append(out)
    return g


def _unquantized_view(model: nn.Module) -> nn.Module:
    return model
