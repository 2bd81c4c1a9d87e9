"""Run a dataflow graph through the bit-exact golden model (mase.golden), node by node.

This is what the generated accelerator must compute: every edge's value for a prompt, in the
integers the hardware streams. The testbench's stimulus and expected outputs come from here.

    >>> vals = run_graph(g, embeds)            # embeds: (T, hidden) float, the host's embedding
    >>> vals["final_norm"].data                # int64 (T, hidden) codes of the output stream

Values: a fixed-point edge holds int64 codes (T, features); an MX edge holds element codes
(T, segments, blocks, k) and scale bytes (T, segments, blocks) (V, blocked along tokens, holds
(features, blocks, k) and (features, blocks)). A fixed8 edge is held like an MX edge, every scale
byte being the edge's constant (calibrated) one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mase.errors import MaseError
from mase.formats import get_format
import importlib

from mase.golden import nonlinear as G

from .graph import DataflowGraph, Edge, Node

L = importlib.import_module("mase.golden.linear")  # the package exports a function of that name
ACC = L.AccSpec(lsb=-20, width=32)  # the default accumulator window (no calibrated output range)


def acc_spec(node: Node) -> "L.AccSpec":
    """The accumulator window of a linear layer or attention product (graph attrs, else ACC)."""
    return L.AccSpec(lsb=node.attrs.get("acc_lsb", ACC.lsb), width=node.attrs.get("acc_w", ACC.width))


@dataclass
class Val:
    data: torch.Tensor  # fixed: int64 codes; MX: element codes (int64)
    scales: torch.Tensor | None = None  # MX: scale bytes (int64)


@dataclass
class RowsVal:
    """V^T blocked along tokens as a KV cache holds it when token t is decoded (causal): row t reads
    the blocks of the tokens <= t. Blocks before t's block are whole and quantized once; t's own block
    holds tokens up to t, zeros after, and is quantized as such. `data` (k, F, nb, k) and `scales`
    (k, F, nb): variant j is every block with its tokens beyond position j zeroed, so row t reads
    variant k - 1 (whole) for the blocks before its own and variant t % k for its own, block t // k."""
    data: torch.Tensor
    scales: torch.Tensor


def _ints(codes: torch.Tensor, scales: torch.Tensor, e: Edge):
    """(integers I, scale bytes, ElemSpec) of an MX or fixed8 stream's blocks, as the cores read them."""
    spec = L.elem_spec(get_format(e.fmt, e.block))
    return spec.to_int(codes), scales.to(torch.int64), spec


def _fixed_scale(e: Edge) -> int | None:
    """The constant output scale byte of a fixed8 edge (None: MX, scale from the data)."""
    if e.fmt != "fixed8":
        return None
    if e.scale < 0:
        raise MaseError(f"edge {e.name}: fixed8 stream without a calibrated scale: run the quantize stage first")
    return e.scale


def linear_int_fast(xi, xs, x_spec, wi, ws, w_spec, bias, acc, acc_sat: list[int] | None = None) -> torch.Tensor:
    """mase.golden.linear.linear_int, the same integers, faster: each block sum S (< 2**53) aligned as
    floor(S * 2**d) in float64 (exact: a power-of-two scaling, then floor), saturated to acc.width bits,
    the terms summed in float64 (exact: integers below 2**(width-1) times fewer than 2**20 blocks).
    acc_sat: [block terms saturated, block terms] added to (the accumulator's clipping, reported)."""
    s = L._block_sums(xi.to(torch.int64), wi.to(torch.int64))
    total = _accumulate(s, xs.unsqueeze(1), ws.unsqueeze(0), x_spec, w_spec, acc, acc_sat)
    if bias is not None:
        total = total + L.saturate(bias.to(torch.int64), acc.width)
    return total


def _accumulate(s, xs, ws, x_spec, w_spec, acc, acc_sat: list[int] | None, valid: torch.Tensor | None = None):
    """The accumulator of block sums s (rows, out, blocks) with scale bytes xs, ws broadcast to s's
    shape: each term floor(s * 2**d) saturated to acc.width bits, summed over the blocks; `valid`
    (broadcast to s) drops the other terms (not accumulated, not counted)."""
    # 2**d = 2**(xs + c) * 2**ws: two exact power-of-two products (between 2**-300 and 2**330, far
    # from float64's subnormals and overflow), 3x faster than ldexp on the (T, O, blocks) terms
    one = torch.ones((), dtype=torch.float64)
    c = x_spec.lsb + w_spec.lsb - 2 * L.E8M0_BIAS - acc.lsb
    fx = torch.ldexp(one, (xs.to(torch.int64) + c).to(torch.float64))
    fw = torch.ldexp(one, ws.to(torch.float64))
    lim = float(1 << (acc.width - 1))
    terms = (s.to(torch.float64) * fx).mul_(fw).floor_()
    if valid is not None:
        terms = terms.masked_fill_(~valid.expand_as(terms), 0.0)
    if acc_sat is not None:
        acc_sat[0] += int(((terms < -lim) | (terms > lim - 1)).sum())
        acc_sat[1] += terms.numel() if valid is None else int(valid.expand_as(terms).sum())
    return terms.clamp_(-lim, lim - 1).sum(-1).to(torch.int64)


def _product(a, b, bias, dst: Edge, acc: "L.AccSpec" = ACC, acc_sat: list[int] | None = None,
             keep: torch.Tensor | None = None):
    """mx_linear / mx_matmul on integer blocks: a = (I (rows, nb, k), scales (rows, nb), spec), b the
    same for the weight rows; re-quantized to dst: codes (rows, nbo, k_out), scales (rows, nbo).
    `keep` (rows, out) bool: the other sums are 0 (their B rows are zeros: keys not yet cached)."""
    total = linear_int_fast(*a, *b, bias, acc, acc_sat)
    if keep is not None:
        total = total.masked_fill(~keep, 0)
    return L.requantize(total, acc.lsb, dst.fmt, dst.block, _fixed_scale(dst))


def _quantize(node: Node, x: Val, src: Edge, dst: Edge, causal: bool = False) -> Val:
    w, f = src.fixed
    a = x.data
    if node.attrs.get("along") == "tokens":  # (T, F) -> blocks along T per feature
        if causal:  # row t reads V^T of the tokens <= t (a KV cache): k variants of the blocks (RowsVal)
            k = dst.block
            at = torch.arange(a.shape[0]) % k
            parts = [L.requantize(a.masked_fill((at > j).unsqueeze(1), 0).t().contiguous(), -f, dst.fmt, k,
                                  _fixed_scale(dst)) for j in range(k)]
            return RowsVal(torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts]))
        codes, scales = L.requantize(a.t().contiguous(), -f, dst.fmt, dst.block, _fixed_scale(dst))
        return Val(codes, scales)
    seg = dst.seg or dst.features
    a = a.reshape(a.shape[0], dst.features // seg, seg)
    codes, scales = L.requantize(a, -f, dst.fmt, dst.block, _fixed_scale(dst))
    return Val(codes, scales)


def _dequantize(node: Node, x: Val, src: Edge, dst: Edge) -> Val:
    w, f = dst.fixed
    spec = L.elem_spec(get_format(src.fmt, src.block))
    i = spec.to_int(x.data)
    shift = node.attrs.get("shift", 0)
    out_lsb = -f + shift  # value * 2**-shift at 2**-f  ==  value at 2**(shift - f)
    v = L.align(i, (x.scales + spec.lsb - L.E8M0_BIAS - out_lsb).unsqueeze(-1), w)
    seg = src.seg or src.features
    v = v.reshape(*v.shape[:-2], -1)[..., :seg]  # drop the padding of each segment
    return Val(v.reshape(v.shape[0], -1))


def _linear(node: Node, x: Val, src: Edge, dst: Edge, cache: dict, acc_sat: list[int] | None = None) -> Val:
    a = node.attrs
    T = x.data.shape[0]
    xb = _ints(x.data.reshape(T, -1, src.block), x.scales.reshape(T, -1), src)
    wq = cache.get(node.name)
    if wq is None:
        wq = cache[node.name] = get_format(a["weight_fmt"], a["block"]).quantize(a["weight"].float(), axis=-1)
    bias = None
    if a["has_bias"]:
        bq = get_format(a["bias_fmt"], a["block"]).fake_quantize(a["bias"].float(), axis=-1)
        bias = L.quantize_bias(bq, acc_spec(node))
    codes, scales = _product(xb, L._blocks_of(wq, src.block, None), bias, dst, acc_spec(node), acc_sat)  # fixed8 W: 133 - f, per block
    return Val(codes.reshape(T, 1, -1, dst.block), scales.reshape(T, 1, -1))


def _matmul_qk(node: Node, q: Val, k: Val, eq: Edge, ek: Edge, dst: Edge, acc_sat: list[int] | None = None,
               causal: bool = False, n_keys: int = 0) -> Val:
    a = node.attrs
    heads, kvh = a["heads"], a["kv_heads"]
    rep = heads // kvh
    T, keep = q.data.shape[0], None
    if causal:  # keys of the graph's whole context (the decode design's cache); those beyond T are zeros
        n = max(n_keys, T)
        keep = G.causal_mask(torch.arange(T).view(T, 1), n).view(T, n)
        k = Val(torch.nn.functional.pad(k.data, (0, 0, 0, 0, 0, 0, 0, n - T)),
                torch.nn.functional.pad(k.scales, (0, 0, 0, 0, 0, n - T)))
    codes, scales = [], []
    for h in range(heads):
        qa = _ints(q.data[:, h], q.scales[:, h], eq)
        kb = _ints(k.data[:, h // rep], k.scales[:, h // rep], ek)
        # (T, T) blocked along the key axis; causal: row t's keys beyond t are not cached yet (zeros)
        c, s = _product(qa, kb, None, dst, acc_spec(node), acc_sat, keep)
        codes.append(c)
        scales.append(s)
    return Val(torch.stack(codes, 1), torch.stack(scales, 1))


def _matmul_sv(node: Node, p: Val, v: Val, ep: Edge, ev: Edge, dst: Edge, acc_sat: list[int] | None = None) -> Val:
    a = node.attrs
    heads, kvh, hd = a["heads"], a["kv_heads"], a["head_dim"]
    rep = heads // kvh
    codes, scales = [], []
    for h in range(heads):
        pa = _ints(p.data[:, h], p.scales[:, h], ep)
        sl = slice((h // rep) * hd, (h // rep + 1) * hd)
        if isinstance(v, RowsVal):  # causal: row t's V^T holds the tokens <= t only (see _quantize)
            c, s = _causal_sv(pa, v.data[:, sl], v.scales[:, sl], ev, dst, acc_spec(node), acc_sat)
        else:
            vb = _ints(v.data[sl], v.scales[sl], ev)  # (hd, T): V^T blocked along tokens
            c, s = _product(pa, vb, None, dst, acc_spec(node), acc_sat)  # (T, hd)
        codes.append(c)
        scales.append(s)
    return Val(torch.stack(codes, 1), torch.stack(scales, 1))


def _causal_sv(pa, vcodes: torch.Tensor, vscales: torch.Tensor, ev: Edge, dst: Edge, acc: "L.AccSpec",
               acc_sat: list[int] | None):
    """P (T rows) x V^T as a KV cache holds it for each row (RowsVal variants, (k, hd, nb, k)): the
    blocks before row t's own from the whole blocks, its own from variant t % k, none after."""
    pi, ps, p_spec = pa
    k, nb = vcodes.shape[-1], vcodes.shape[2]
    T = pi.shape[0]
    t = torch.arange(T)
    own, j = t // k, t % k
    vi, vs, v_spec = _ints(vcodes, vscales, ev)  # (k, hd, nb, k), (k, hd, nb)
    pi, ps = pi[:, :nb], ps[:, :nb]  # P's blocks beyond the tokens are zeros (keys not cached)
    s = L._block_sums(pi.to(torch.int64), vi[-1].to(torch.int64))  # (T, hd, nb): whole blocks
    mine = vi[j, :, own]  # (T, hd, k): each row's own block, its variant
    s[t, :, own] = (pi[t, own].to(torch.int64).unsqueeze(1) * mine.to(torch.int64)).sum(-1)  # exact
    ws = vs[-1].unsqueeze(0).expand(T, -1, -1).clone()  # (T, hd, nb)
    ws[t, :, own] = vs[j, :, own]
    valid = (torch.arange(nb).view(1, 1, nb) <= own.view(T, 1, 1))
    total = _accumulate(s, ps.unsqueeze(1), ws, p_spec, v_spec, acc, acc_sat, valid)
    return L.requantize(total, acc.lsb, dst.fmt, dst.block, _fixed_scale(dst))


def _norm(node: Node, x: Val) -> Val:
    a = node.attrs
    cfg = G.NormConfig()
    g = G.to_fixed(a["gamma"], cfg.g_w, a["g_f"])
    b = G.to_fixed(a["beta"], cfg.out_w, a["out_f"]) if a.get("beta") is not None else None
    y = G.norm_int(x.data, g, b, cfg, a["g_f"], a["out_f"], a["eps_code"], node.op == "layernorm")
    return Val(y)


def _rope(node: Node, x: Val, pos: torch.Tensor) -> Val:
    a = node.attrs
    hd, cfg = a["head_dim"], G.RopeConfig()
    T = x.data.shape[0]
    c = x.data.reshape(T, a["heads"], hd)
    freq = torch.tensor(a["freqs"], dtype=torch.int64)  # the table the core gets as FREQS
    lo, hi = G.rope_int(c[..., : hd // 2], c[..., hd // 2:], pos.view(T, 1, 1), freq, cfg)
    return Val(torch.cat((lo, hi), -1).reshape(T, -1))


def _softmax(node: Node, x: Val) -> Val:
    heads = node.attrs["heads"]
    T = x.data.shape[0]
    n = x.data.shape[1] // heads  # keys: T, or the decode design's context (causal)
    s = x.data.reshape(T, heads, n)
    mask = G.causal_mask(torch.arange(T).view(T, 1), n)  # (T, 1, n): row t keeps columns <= t
    cfg = G.SoftmaxConfig(log2e_q=node.attrs.get("log2e_q", G.T.LOG2E_Q))  # c of 1/sqrt(d) = 2**-s c
    y = G.softmax_int(s, mask.expand(T, heads, n), cfg)
    return Val(y.reshape(T, -1))


def _at_rail(e: Edge, v: Val) -> tuple[int, int]:
    """(values at the rail, values) of a fixed-point or fixed8 stream: every clipped value sits at
    +-(2**(W-1) - 1) (fixed8: int8 code +-127), the cores saturate symmetrically there; a value
    exactly at the limit without clipping counts too (one code in 2**(W-1): rare)."""
    if e.is_fixed:
        lim = (1 << (e.fixed[0] - 1)) - 1
        return int((v.data.abs() >= lim).sum()), v.data.numel()
    if e.fmt == "fixed8" and not isinstance(v, RowsVal):
        i = L.elem_spec("fixed8").to_int(v.data)
        return int((i.abs() >= 127).sum()), i.numel()
    return 0, 0  # MX: the shared scale follows the data, nothing saturates


def count_saturations(g: DataflowGraph, vals: dict[str, Val], into: dict[str, list[int]] | None = None):
    """{edge: [values at the rail, values]} of every fixed-point / fixed8 edge in `vals` (added to `into`)."""
    into = {} if into is None else into
    for name, v in vals.items():
        n, tot = _at_rail(g.edges[name], v)
        if tot:
            c = into.setdefault(name, [0, 0])
            c[0], c[1] = c[0] + n, c[1] + tot
    return into


def saturation_summary(counts: dict[str, list[int]]) -> dict:
    """The report's `saturations`: total clipped values, the values checked, and the edges that clip."""
    per = {e: c[0] for e, c in counts.items() if c[0]}
    return {"total": sum(per.values()), "values": sum(c[1] for c in counts.values()), "edges_checked": len(counts),
            "per_edge": dict(sorted(per.items(), key=lambda kv: -kv[1]))}


def _acc_counter(sat: dict[str, list[int]] | None, n: Node) -> list[int] | None:
    """The saturation count of a product node's accumulator (key "<node>.acc" among the edges')."""
    return None if sat is None else sat.setdefault(f"{n.name}.acc", [0, 0])


def run_graph(g: DataflowGraph, embeds: torch.Tensor, layers: int | None = None, keep: set[str] | None = None,
              sat: dict[str, list[int]] | None = None, causal: bool = False) -> dict[str, Val]:
    """Every edge's value for the prompt whose embedded tokens are `embeds` (T, hidden); with
    `layers`, only the nodes of the first `layers` decoder layers. With `keep`, an edge not in it is
    dropped after its last consumer (memory: a long prompt through a whole model); with `sat`, the
    clipped values of every fixed-point edge are counted into it as it is computed (count_saturations).

    `causal`: the numerics of KV-cache decode (`mase/golden/CONTRACT.md`, "Decode"): row t is computed
    as if the tokens after t did not exist yet (its scores beyond t are zero sums, its V^T blocks hold
    the tokens <= t only), so row t does not depend on later tokens and one run over a sequence equals
    decoding it token by token. Then T may be below the graph's length (the decode design's context)."""
    T = embeds.shape[0]
    if T != g.seq_len and not (causal and T <= g.seq_len):
        raise ValueError(f"the graph was captured for {g.seq_len} tokens, got {T}")
    w, f = g.edges[g.inputs[0]].fixed
    vals: dict[str, Val] = {g.inputs[0]: Val(G.to_fixed(embeds, w, f))}
    if sat is not None:
        count_saturations(g, vals, sat)
    last = {e: i for i, n in enumerate(g.nodes) for e in n.inputs} if keep is not None else {}
    pos = torch.arange(T)
    for i_node, n in enumerate(g.nodes):
        if layers is not None and not 0 <= n.layer < layers:
            continue
        ins = [vals[e] for e in n.inputs]
        ein = [g.edges[e] for e in n.inputs]
        dst = g.edges[n.outputs[0]]
        if n.op == "quantize":
            v = _quantize(n, ins[0], ein[0], dst, causal)
        elif n.op == "dequantize":
            v = _dequantize(n, ins[0], ein[0], dst)
        elif n.op == "linear":
            v = _linear(n, ins[0], ein[0], dst, g.__dict__.setdefault("_wq", {}), _acc_counter(sat, n))
        elif n.op == "matmul_qk":
            v = _matmul_qk(n, ins[0], ins[1], ein[0], ein[1], dst, _acc_counter(sat, n), causal, g.seq_len)
        elif n.op == "matmul_sv":
            v = _matmul_sv(n, ins[0], ins[1], ein[0], ein[1], dst, _acc_counter(sat, n))
        elif n.op in ("rmsnorm", "layernorm"):
            v = _norm(n, ins[0])
        elif n.op == "rope":
            v = _rope(n, ins[0], pos)
        elif n.op == "softmax":
            v = _softmax(n, ins[0])
        elif n.op == "residual":
            (aw, af), (bw, bf), (ow, of) = ein[0].fixed, ein[1].fixed, dst.fixed
            v = Val(G.residual_int(ins[0].data, ins[1].data, G.ResidualConfig(aw, af, bw, bf, ow, of)))
        elif n.op == "act":
            (iw, i_f), (ow, of) = ein[0].fixed, dst.fixed
            v = Val(G.act_int(ins[0].data, n.attrs["func"], G.ActConfig(iw, i_f, ow, of)))
        elif n.op == "swiglu":
            (aw, af), (bw, bf), (ow, of) = ein[0].fixed, ein[1].fixed, dst.fixed
            v = Val(G.swiglu_int(ins[0].data, ins[1].data, G.SwigluConfig(aw, af, bw, bf, ow, of)))
        else:
            raise MaseError(f"layer {n.layer}: operator {n.op} ({n.name}) has no golden model")
        vals[n.outputs[0]] = v
        if sat is not None:
            count_saturations(g, {n.outputs[0]: v}, sat)
        for e in n.inputs if keep is not None else ():
            if last[e] == i_node and e not in keep:
                vals.pop(e, None)
    return vals


def host_embeddings(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """What the host streams in: token (+ learned position, OPT) embeddings of one prompt (T,) -> (T, H)."""
    with torch.no_grad():
        conf = model.config
        if conf.model_type == "opt":
            dec = model.model.decoder
            e = dec.embed_tokens(ids[None])
            mask = torch.ones_like(ids[None])
            e = e + dec.embed_positions(mask, 0, position_ids=torch.arange(ids.numel())[None])
            return e[0].float()
        return model.model.embed_tokens(ids[None])[0].float()


def output_float(g: DataflowGraph, vals: dict[str, Val]) -> torch.Tensor:
    _, f = g.edges[g.outputs[0]].fixed
    return vals[g.outputs[0]].data.to(torch.float64) * 2.0**-f
