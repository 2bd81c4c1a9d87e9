"""How each graph operator maps onto a core of the mase:mx library (VLNV, module, ports, parameters).

A mapping returns a `CoreInst`; a node that no existing core can compute yet raises `Unmapped`
with the exact reason (missing core, or a configuration the core does not support), so that the
compiler can say precisely what is simulated and what is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mase.eda.mx_linear import format_params, linear_params

from .graph import DataflowGraph, Edge, Node
from .params import NodeParams, causal_chunk

ACT_FUNC = {"relu": 0, "gelu": 1, "silu": 2}


class Unmapped(Exception):
    def __init__(self, vlnv: str, reason: str):
        super().__init__(reason)
        self.vlnv, self.reason = vlnv, reason


@dataclass
class CoreInst:
    vlnv: str  # mase:mx:<core> (without version)
    module: str
    params: dict[str, object]
    inputs: list[tuple[str, str, int]]  # (port prefix, edge, lanes)
    output: tuple[str, str, int]  # (port prefix, edge, lanes)
    weights: dict[str, str] = field(default_factory=dict)  # image kind -> file name (mx_linear)
    w_stream: bool = False  # mx_linear with W_SOURCE = 1: w_* port on the top level
    rom: tuple | None = None  # (port prefix, file, width, depth): a mase_param_rom feeds this port
    pos: dict | None = None  # mase_pos_tag before the first input: {"width", "pos_w", "beats"}
    rope: dict | None = None  # mase_rope_pack / mase_rope_unpack around the core
    out_zext: tuple | None = None  # (from_w, to_w): the core's lanes are zero-extended onto the edge
    pre: list = field(default_factory=list)  # [(helper module, params, output width)] before input 0
    # the decode design's KV cache in off-chip memory (hw.kv_cache, mase.compiler.kv_offchip): {"kind": "k" | "v",
    # "write": port, "read": port, "stream": (module, params) of the K stream (V: the helper in `pre`)}
    kv: dict | None = None


@lru_cache(maxsize=8)
def _available(roots: tuple[str, ...]) -> frozenset[str]:
    names = set()
    for root in roots:
        for f in Path(root).rglob("*.core"):
            m = re.search(r"^name\s*:\s*(\S+?):(\d[\w.]*)\s*$", f.read_text(errors="replace"), re.M)
            if m:
                names.add(m.group(1))
    return frozenset(names)


def available_cores(roots=None) -> frozenset[str]:
    """VLNV names (without version) of the cores FuseSoC can find."""
    from mase.eda.runner import cores_roots

    return _available(tuple(str(r) for r in cores_roots(roots)))


def width(e: Edge, lanes: int) -> int:
    """Bits of one beat of edge `e` carrying `lanes` elements."""
    if e.is_fixed:
        return lanes * e.fixed[0]
    w, _ = format_params(e.fmt)
    return 8 + lanes * w


def _mx(e: Edge) -> tuple[int, int]:
    return format_params(e.fmt)


def _fixed(e: Edge) -> int | None:
    """The constant scale byte of a fixed8 stream (a core parameter), None for MX."""
    return e.scale if e.fmt == "fixed8" else None


def _need(vlnv: str, avail: frozenset[str], what: str) -> None:
    if vlnv not in avail:
        raise Unmapped(vlnv, f"core {vlnv} ({what}) does not exist yet")


def map_node(n: Node, p: NodeParams, g: DataflowGraph, avail: frozenset[str]) -> CoreInst:
    """The core instance of node `n` with parameters `p`; raises Unmapped."""
    ins = [g.edges[e] for e in n.inputs]
    out = g.edges[n.outputs[0]]
    a = n.attrs
    acc = (a.get("acc_lsb", -20), a.get("acc_w", 32))  # the accumulator window (mase.compiler.golden.acc_spec)
    L = p.in_par
    if n.op == "linear":
        _need("mase:mx:mx_linear", avail, "linear layers")
        x = ins[0]
        w_source = 1 if p.weights == "axi" else 0
        prm = linear_params(a["in_features"], a["out_features"], x_format=x.fmt, w_format=a["weight_fmt"],
                            o_format=out.fmt, k=a["block"], k_out=out.block, in_par=p.in_par, out_par=p.out_par,
                            has_bias=a["has_bias"], w_source=w_source, x_scale=_fixed(x), o_scale=_fixed(out),
                            w_scale=a["w_scale"] if a["weight_fmt"] == "fixed8" else None)
        prm["ACC_LSB"], prm["ACC_W"] = acc
        if p.short:  # the output quantizer's short pipeline (the default, 0, is not written)
            prm["SHORT"] = 1
        stem = safe(n.name)
        files = {"W_FILE": f"{stem}.w.hex", "S_FILE": f"{stem}.s.hex", "B_FILE": f"{stem}.b.hex"}
        if w_source:  # streamed weights: the bias stays in its on-chip ROM
            files = {"B_FILE": files["B_FILE"]} if a["has_bias"] else {}
        prm.update(files)
        return CoreInst("mase:mx:mx_linear", "mx_linear", prm, [("in", x.name, p.in_par)],
                        ("out", out.name, p.out_par), files, bool(w_source))
    if n.op == "quantize":
        src = ins[0]
        _need("mase:mx:mx_quantize", avail, "fixed point to MX")
        w, e = _mx(out)
        iw, f = src.fixed
        prm = {"PAR": L, "K": out.block, "IN_W": iw, "IN_LSB": -f, "WIDTH": w, "EBITS": e, "FIXED_SCALE": out.scale}
        if p.short:
            prm["SHORT"] = 1
        pre = []
        seg = out.seg or out.features
        if a.get("along") == "tokens":  # V: buffer the prompt, stream it feature by feature, padded
            t_pad = -(-g.seq_len // out.block) * out.block
            t_in = chunk = causal_chunk(g, n.layer)  # causal chunks: a chunk of tokens at a time
            if not chunk:
                t_in, chunk = g.seq_len, t_pad
            tp = {"W": iw, "LANES": L, "F": src.features, "T": t_in, "T_PAD": chunk}
            if g.decode:  # the V cache: after every token, V^T of the tokens so far
                tp["STEP"] = 1
            if g.decode and p.kv == "offchip":  # the V cache in off-chip memory: written, then read back
                from .kv_offchip import cache_shape

                eb = 8 * cache_shape(g, n, L, 64)["elem_bytes"]
                pre.append(("mase_kv_stream_v", {"W": iw, "EB": eb, "LANES": L, "F": src.features, "T": t_in,
                                                 "T_PAD": chunk}, L * iw))
            else:
                pre.append(("mase_transpose_pad", tp, L * iw))
        elif seg % out.block:  # segments shorter than a block (a head, a row of scores): zero padding
            pre.append(("mase_pad", {"W": iw, "LANES": L, "SEG": seg, "SEG_PAD": -(-seg // out.block) * out.block},
                        L * iw))
        kv = {"kind": "v", "write": f"vw_{safe(n.name)}", "read": f"vr_{safe(n.name)}"} if pre and \
            pre[0][0] == "mase_kv_stream_v" else None
        return CoreInst("mase:mx:mx_quantize", "mx_quantize", prm, [("in", src.name, L)], ("out", out.name, L), pre=pre,
                        kv=kv)
    if n.op == "dequantize":
        src = ins[0]
        _need("mase:mx:mx_dequantize", avail, "MX to fixed point")
        seg = src.seg or src.features
        seg_pad = -(-seg // src.block) * src.block  # the padding of each segment is dropped
        if seg % L:
            raise Unmapped("mase:mx:mx_dequantize", f"{L} lanes do not divide segments of {seg}")
        w, e = _mx(src)
        ow, of = out.fixed
        return CoreInst("mase:mx:mx_dequantize", "mx_dequantize",
                        {"PAR": L, "K": src.block, "WIDTH": w, "EBITS": e, "OUT_W": ow,
                         "OUT_LSB": -of + a.get("shift", 0), "FIXED_SCALE": src.scale, "SEG": seg, "SEG_PAD": seg_pad},
                        [("in", src.name, L)], ("out", out.name, L))
    if n.op == "act":
        _need("mase:mx:activation", avail, "ReLU/GELU/SiLU")
        (iw, i_f), (ow, of) = ins[0].fixed, out.fixed
        return CoreInst("mase:mx:activation", "mx_activation",
                        {"LANES": L, "FUNC": ACT_FUNC[a["func"]], "IN_W": iw, "IN_F": i_f, "OUT_W": ow, "OUT_F": of},
                        [("in", ins[0].name, L)], ("out", out.name, L))
    if n.op in ("swiglu", "residual"):
        vlnv, mod = ("mase:mx:swiglu", "mx_swiglu") if n.op == "swiglu" else ("mase:mx:residual_add", "mx_residual_add")
        _need(vlnv, avail, n.op)
        (aw, af), (bw, bf), (ow, of) = ins[0].fixed, ins[1].fixed, out.fixed
        return CoreInst(vlnv, mod, {"LANES": L, "A_W": aw, "A_F": af, "B_W": bw, "B_F": bf, "OUT_W": ow, "OUT_F": of},
                        [("a", ins[0].name, L), ("b", ins[1].name, L)], ("out", out.name, L))
    if n.op in ("rmsnorm", "layernorm"):
        vlnv = f"mase:mx:{n.op}"
        _need(vlnv, avail, n.op)
        from mase.golden.nonlinear import NormConfig

        cfg = NormConfig()
        iw, i_f = ins[0].fixed
        ow, of = out.fixed
        if (iw, i_f) != (cfg.in_w, cfg.in_f) or ow != cfg.out_w:
            raise Unmapped(vlnv, f"norm input {ins[0].fmt} / output width {ow} differ from the core's configuration")
        prm = {"LANES": L, "N": a["features"], "IN_W": iw, "G_W": cfg.g_w, "G_F": a["g_f"], "OUT_W": ow, "OUT_F": of,
               "EPS_CODE": a["eps_code"], "P": cfg.sq_shift, "M": cfg.norm_m, "K": cfg.rsqrt_k, "T_F": cfg.t_f}
        ww = L * (cfg.g_w + (ow if n.op == "layernorm" else 0))
        return CoreInst(vlnv, f"mx_{n.op}", prm, [("in", ins[0].name, L)], ("out", out.name, L),
                        rom=("w", f"{safe(n.name)}.g.hex", ww, a["features"] // L))
    if n.op == "softmax":
        _need("mase:mx:softmax", avail, "causal softmax")
        from mase.golden.nonlinear import SoftmaxConfig

        cfg = SoftmaxConfig()
        iw, i_f = ins[0].fixed
        T = ins[0].seg
        if (iw, i_f) != (cfg.in_w, cfg.in_f) or out.fixed != (cfg.out_w + 1, cfg.out_f):
            raise Unmapped("mase:mx:softmax", "softmax formats differ from the core's configuration")
        prm = {"LANES": L, "N": T, "POS_W": 16, "IN_W": iw, "IN_F": i_f, "OUT_F": cfg.out_f, "R_F": cfg.recip_f,
               "LOG2E_Q": a.get("log2e_q", cfg.log2e_q)}
        return CoreInst("mase:mx:softmax", "mx_softmax", prm, [("in", ins[0].name, L)], ("out", out.name, L),
                        pos={"width": L * iw, "pos_w": 16, "beats": a["heads"] * T // L},
                        out_zext=(cfg.out_f + 1, out.fixed[0]))
    if n.op == "rope":
        _need("mase:mx:rope", avail, "rotary embedding")
        iw, i_f = ins[0].fixed
        ow, of = out.fixed
        hd = a["head_dim"]
        if (hd // 2) % L:
            raise Unmapped("mase:mx:rope", f"{L} lanes do not divide the {hd // 2} rotation pairs of a head")
        from mase.golden.nonlinear import RopeConfig
        from mase.golden.nonlinear_tables import rope_freqs_hex

        # the model's table (graph attrs, also what the golden model uses), as hex text
        prm = {"LANES": L, "HEAD_DIM": hd, "FREQS": rope_freqs_hex(a["freqs"], RopeConfig().phase_f), "POS_W": 16,
               "IN_W": iw, "IN_F": i_f, "OUT_W": ow, "OUT_F": of}
        return CoreInst("mase:mx:rope", "mx_rope", prm, [("in", ins[0].name, L)], ("out", out.name, L),
                        rope={"lanes": L, "in_w": iw, "out_w": ow, "head_dim": hd, "heads": a["heads"], "pos_w": 16})
    if n.op in ("matmul_qk", "matmul_sv"):
        _need("mase:mx:mx_matmul", avail, "attention matrix products")
        ea, eb = ins
        aw, ae = _mx(ea)
        bw, be = _mx(eb)
        ow, oe = _mx(out)
        T, hd = g.seq_len, a["head_dim"]
        pad = lambda v: -(-v // ea.block) * ea.block  # noqa: E731
        qk = n.op == "matmul_qk"
        n_out = T if qk else hd
        prm = {"HEADS": a["heads"], "KV_HEADS": a["kv_heads"], "ROWS": T, "N": n_out,
               "N_PAD": -(-n_out // out.block) * out.block,  # output rows of whole blocks (zero padding)
               "D": pad(hd) if qk else pad(T), "K": ea.block, "K_OUT": out.block, "PAR_D": L,
               "A_WIDTH": aw, "A_EBITS": ae, "B_WIDTH": bw, "B_EBITS": be, "O_WIDTH": ow, "O_EBITS": oe,
               "ACC_LSB": acc[0], "ACC_W": acc[1], "B_GROUP_MAJOR": 0 if qk else 1,
               "A_FIXED_SCALE": ea.scale, "B_FIXED_SCALE": eb.scale, "O_FIXED_SCALE": out.scale}
        if p.out_par > 1:  # output elements a beat (a long Q.K^T row); 1 = the original core, no parameter
            prm["OUT_PAR"] = p.out_par
        if p.short:
            prm["SHORT"] = 1
        chunk = causal_chunk(g, n.layer)
        if chunk:  # causal prefill: chunk c of the rows starts once chunk c of K / V exists
            prm["CHUNK"] = chunk
        kv = None
        if g.decode and qk and p.kv == "offchip":  # the K cache in off-chip memory: a whole B a token and pass
            prm["ROWS"] = 1
            rb = prm["D"] // L
            kv = {"kind": "k", "write": f"kw_{safe(n.name)}", "read": f"kr_{safe(n.name)}",
                  "stream": ("mase_kv_stream_k", {"BW": width(eb, L), "BEATS": a["kv_heads"] * rb, "T": T})}
        elif g.decode and qk:  # the K cache: row t against keys 0..t (replayed) and zeros beyond
            prm["CHUNK"] = 1
            if g.prefill and a["kv_heads"] > 1:  # fed a token every II: the groups replay in parallel
                prm["B_PER_GROUP"] = 1
        elif g.decode:  # a B (V^T of the tokens so far, from the V cache) for every row
            prm["ROWS"] = 1
        return CoreInst("mase:mx:mx_matmul", "mase_attn_matmul", prm, [("a", ea.name, L), ("b", eb.name, L)],
                        ("out", out.name, p.out_par), kv=kv)
    raise Unmapped(f"mase:mx:{n.op}", f"no core for operator {n.op}")


def safe(name: str) -> str:
    """A Verilog identifier from a node or edge name."""
    s = re.sub(r"[^0-9a-zA-Z_]", "_", name)
    s = re.sub(r"^model_(decoder_)?layers_", "l", s)
    s = s.replace("_self_attn_", "_attn_")
    return s if not s[0].isdigit() else "n" + s
