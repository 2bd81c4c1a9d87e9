"""Dataflow graph capture (OPT, LLaMA), per-tensor formats, unmappable operators, golden graph run."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mase.compiler.golden import host_embeddings, output_float, run_graph
from mase.compiler.graph import capture
from mase.config import MaseError, compose


def test_llama_graph_nodes_and_shapes(tiny_llama):
    g = capture(tiny_llama, "mxint4", seq_len=8, model_name="tiny-llama")
    c = g.counts()
    assert c["linear"] == 7 * 2 and c["rmsnorm"] == 2 * 2 + 1 and c["rope"] == 2 * 2
    assert c["matmul_qk"] == c["matmul_sv"] == c["softmax"] == 2 and c["swiglu"] == 2 and c["residual"] == 4
    q = g.node("model.layers.0.self_attn.q_proj")
    assert (q.attrs["in_features"], q.attrs["out_features"], q.attrs["weight_fmt"]) == (64, 64, "mxint4")
    k = g.node("model.layers.0.self_attn.k_proj")
    assert k.attrs["out_features"] == 32  # 2 kv heads of 16
    qk = g.node("model.layers.0.self_attn.qk")
    assert (qk.attrs["heads"], qk.attrs["kv_heads"], qk.attrs["head_dim"]) == (4, 2, 16)
    assert g.edges[qk.inputs[0]].fmt == "mxint4" and g.edges[qk.inputs[0]].seg == 16
    # every edge has one producer (or is the input) and every consumer exists
    names = {n.name for n in g.nodes}
    for e in g.edges.values():
        assert e.producer in names or e.name in g.inputs
        assert all(c in names for c in e.consumers)
    assert g.outputs == ["final_norm"]


def test_opt_graph(tiny_opt):
    g = capture(tiny_opt, "mxint8", seq_len=8)
    c = g.counts()
    assert c["layernorm"] == 5 and c["act"] == 2 and "rope" not in c and c["linear"] == 12
    assert g.node("model.decoder.layers.1.activation_fn").attrs["func"] == "relu"
    assert g.node("model.decoder.layers.0.fc1").attrs["has_bias"]


def test_formats_follow_overrides(tiny_llama):
    q = compose(["+model=tiny-llama", "quant=mxint4", "+quant.overrides={model.layers.*.mlp.down_proj: {weight: mxint8}}"]).quant
    g = capture(tiny_llama, q, seq_len=8)
    assert g.node("model.layers.1.mlp.down_proj").attrs["weight_fmt"] == "mxint8"
    assert g.node("model.layers.1.mlp.up_proj").attrs["weight_fmt"] == "mxint4"


def test_unmappable_operator_is_one_line(tiny_llama):
    tiny_llama.model.layers[1].mlp.act_fn = nn.Tanh()
    with pytest.raises(MaseError, match=r"layer 1: operator Tanh \(model.layers.1.mlp.act_fn\) has no hardware core") as e:
        capture(tiny_llama, "mxint4")
    assert "\n" not in str(e.value)


def test_unknown_child_module(tiny_opt):
    tiny_opt.model.decoder.layers[0].extra = nn.Softplus()
    with pytest.raises(MaseError, match=r"layer 0: operator Softplus \(model.decoder.layers.0.extra\) has no hardware core"):
        capture(tiny_opt, "mxint4")


def test_float_layer_is_an_error(tiny_llama):
    q = compose(["+model=tiny-llama", "quant=mxint4", "quant.exclude=[lm_head,model.layers.0.mlp.up_proj]"]).quant
    with pytest.raises(MaseError, match=r"layer 0: operator Linear \(model.layers.0.mlp.up_proj\) is kept in float"):
        capture(tiny_llama, q)


@pytest.mark.parametrize("name", ["tiny_llama", "tiny_opt"])
def test_golden_graph_tracks_float_model(name, request):
    model = request.getfixturevalue(name)
    g = capture(model, "mxint8", seq_len=8)
    ids = torch.arange(3, 11)
    vals = run_graph(g, host_embeddings(model, ids))
    y = output_float(g, vals)
    with torch.no_grad():
        ref = model(ids[None], output_hidden_states=True).hidden_states[-1][0].double()
    rel = float((y - ref).norm() / ref.norm())
    assert rel < 0.05, rel
    # deterministic
    assert torch.equal(run_graph(g, host_embeddings(model, ids))[g.outputs[0]].data, vals[g.outputs[0]].data)
