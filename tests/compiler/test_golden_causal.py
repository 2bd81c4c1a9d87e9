"""The golden model's causal (KV-cache decode) numerics, computed for all rows at once
(`RowsVal` variants), against two references over formats, block sizes and lengths that cross V
blocks: a per-row computation (row t quantizes V^T of tokens 0..t and multiplies it alone, the
first implementation, which the decode RTL was first checked against), and, in one decoder layer,
the prefill numerics of the prefix 0..t where its score rows get the same block."""

from __future__ import annotations

import pytest
import torch

import mase.compiler.golden as golden
from mase.compiler.golden import L, Val, _fixed_scale, _ints, _product, acc_spec, host_embeddings, run_graph
from mase.compiler.graph import capture
from mase.config import compose


class _Rows:  # V^T per row, the reference's
    def __init__(self, data, scales):
        self.data, self.scales = data, scales


def _quantize_per_row(orig):
    def q(node, x, src, dst, causal=False):
        if not (causal and node.attrs.get("along") == "tokens"):
            return orig(node, x, src, dst, causal)
        a = x.data
        parts = [L.requantize(a[: t + 1].t().contiguous(), -src.fixed[1], dst.fmt, dst.block, _fixed_scale(dst))
                 for t in range(a.shape[0])]
        return _Rows([p[0] for p in parts], [p[1] for p in parts])
    return q


def _sv_per_row(orig):
    def sv(node, p, v, ep, ev, dst, acc_sat=None):
        if not isinstance(v, _Rows):
            return orig(node, p, v, ep, ev, dst, acc_sat)
        a = node.attrs
        rep, hd = a["heads"] // a["kv_heads"], a["head_dim"]
        codes, scales = [], []
        for h in range(a["heads"]):
            pa = _ints(p.data[:, h], p.scales[:, h], ep)
            sl = slice((h // rep) * hd, (h // rep + 1) * hd)
            rows = []
            for t in range(pa[0].shape[0]):
                nb = v.data[t].shape[1]
                rows.append(_product((pa[0][t:t + 1, :nb], pa[1][t:t + 1, :nb], pa[2]),
                                     _ints(v.data[t][sl], v.scales[t][sl], ev), None, dst, acc_spec(node), acc_sat))
            codes.append(torch.cat([r[0] for r in rows]))
            scales.append(torch.cat([r[1] for r in rows]))
        return Val(torch.stack(codes, 1), torch.stack(scales, 1))
    return sv


def _layer0_out(g):
    return [n for n in g.nodes if n.layer == 0][-1].outputs[0]


@pytest.mark.parametrize("model,quant,block,T,context", [
    ("tiny-llama", "mxint4", 32, 70, 96),   # three V blocks; context beyond the tokens
    ("tiny-llama", "mxfp6", 16, 20, 32),
    ("tiny-opt", "mxint8", 32, 33, 64),
    ("tiny-opt", "mxint4w8a", 32, 5, 5),
])
def test_causal_rows_against_per_row_and_prefix(model, quant, block, T, context, request, monkeypatch):
    m = request.getfixturevalue(model.replace("-", "_"))
    cfg = compose([f"+model={model}", f"quant={quant}", f"quant.block_size={block}"])
    torch.manual_seed(T)
    e = host_embeddings(m, torch.randint(0, m.config.vocab_size, (T,)))
    g = capture(m, cfg.quant, seq_len=context, hw=cfg.hw)
    sat_fast: dict = {}
    fast = run_graph(g, e, causal=True, sat=sat_fast)
    with monkeypatch.context() as mp:
        mp.setattr(golden, "_quantize", _quantize_per_row(golden._quantize))
        mp.setattr(golden, "_matmul_sv", _sv_per_row(golden._matmul_sv))
        sat_ref: dict = {}
        ref = run_graph(g, e, causal=True, sat=sat_ref)
    for name, v in ref.items():
        if isinstance(v, _Rows):
            continue
        assert torch.equal(fast[name].data, v.data), name
        assert (v.scales is None) == (fast[name].scales is None) and (v.scales is None or torch.equal(fast[name].scales, v.scales)), name
    assert sat_fast == sat_ref  # the accumulators count the same terms (row t: its own blocks)
    if context % block == 0:  # score rows blocked by the quant block in both: row t = the prefix's last row
        out = fast[_layer0_out(g)].data
        for t in [t for t in range(T) if (t + 1) % block == 0]:
            gp = capture(m, cfg.quant, seq_len=t + 1, hw=cfg.hw)
            prefix = run_graph(gp, e[: t + 1], layers=1)[_layer0_out(gp)].data
            assert torch.equal(out[t], prefix[t]), t


def test_decode_numerics_do_not_depend_on_the_generation_length(tiny_llama):
    """The decode design's context is whole quant blocks (generate.design_context): 24 and 30 tokens
    both make a 32-token design, and 40 tokens a 64-token one, with the same rows."""
    from mase.compiler.generate import decode_graph, design_context

    torch.manual_seed(3)
    e = host_embeddings(tiny_llama, torch.randint(0, tiny_llama.config.vocab_size, (24,)))
    rows = []
    for tokens in (24, 30, 40):
        g = decode_graph(tiny_llama, "mxint4", design_context(tiny_llama, "mxint4", tokens))
        assert g.seq_len == (32 if tokens <= 32 else 64) and g.decode
        rows.append(run_graph(g, e, causal=True)[g.outputs[0]].data)
    assert torch.equal(rows[0], rows[1]) and torch.equal(rows[0], rows[2])
