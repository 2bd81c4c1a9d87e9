"""The KV-cache decode design generates text (issue 12 §1): the golden model's causal numerics are
those of token-by-token decoding, and the decode design in Verilator generates the golden model's
greedy tokens bit-exactly, with the cycles per generated token measured in lockstep."""

from __future__ import annotations

import json

import pytest
import torch

from mase.compiler.golden import host_embeddings, run_graph
from mase.compiler.graph import capture
from mase.config import compose


@pytest.mark.parametrize("model", ["tiny-llama", "tiny-opt"])
def test_causal_rows_do_not_depend_on_later_tokens(model, request):
    """Row t of a causal run is the last row of the run over tokens 0..t, and a graph with a longer
    context (the decode design's) gives the same rows: decoding a token at a time equals one run."""
    m = request.getfixturevalue(model.replace("-", "_"))
    torch.manual_seed(1)
    ids = torch.randint(0, m.config.vocab_size, (13,))
    e = host_embeddings(m, ids)
    long = capture(m, "mxint4", seq_len=40)
    full = run_graph(long, e, causal=True)[long.outputs[0]].data
    for t in (0, 6, 12):
        g = capture(m, "mxint4", seq_len=t + 1)
        assert torch.equal(run_graph(g, e[:t + 1], causal=True)[g.outputs[0]].data[t], full[t]), t
    with pytest.raises(ValueError, match="captured for 40 tokens"):
        run_graph(long, e)  # prefill numerics need the graph's own length


@pytest.mark.slow
@pytest.mark.parametrize("model,quant", [("tiny-llama", "mxint4"), ("tiny-opt", "mxint4")])
def test_generate_stage_is_bit_exact(tmp_path, model, quant):
    """16 greedy tokens after an 8-token prompt: the decode design in Verilator (every decoder layer,
    the gated run and one with random stalls and back-pressure) gives the golden model's tokens."""
    from mase.pipeline import run

    cfg = compose([f"+model={model}", f"quant={quant}", "target=sim", "hw.prompt_tokens=8", "hw.generate_tokens=16"])
    ctx = run(cfg, tmp_path, stages=["emit", "generate", "hw_report"])
    res = json.loads((tmp_path / "hw" / "generate.json").read_text())
    rep = ctx.results["hw_report"]  # decode figures from the simulation, labelled so
    assert rep["cycles"]["decode_source"].startswith("simulation") and rep["generate"]["match"]
    assert rep["cycles"]["decode_cycles_per_token"] == res["cycles_per_token"] and rep["cycles"]["decode_context"] == 32  # 24 tokens: a design of whole 32-token blocks
    assert res["bit_exact"] and res["match"] and len(res["tokens_hw"]) == 16
    assert res["tokens_hw"] == res["tokens_golden"]
    assert len(res["cycles_per_token_each"]) == 15 and res["cycles_per_token"] > 0
    # the design drains its whole V cache and sends every position of its K cache for every token: a
    # token costs less only by the zero keys after it (as the decode model says: tiny-opt 4,168 at
    # position 8 to 3,720 at 22, the model 4,128 to 3,680); the model follows each token within 5%
    each, model = res["cycles_per_token_each"], res["analytical_each"]
    assert abs((each[0] - each[-1]) - (model[0] - model[-1])) <= 0.01 * res["cycles_per_token"], (each, model)
    assert all(abs(m - s) <= 0.05 * s for m, s in zip(model, each)), (each, model)
    assert abs(res["analytical_error"]) < 0.05, res["analytical_error"]
    assert {r["stall"] for r in res["runs"]} == {0, 30}


@pytest.mark.slow
def test_layer_by_layer_generation_matches(tmp_path, tiny_llama):
    """The path of deep models (bench_generate.py): layer 0's compiled design run once per decoder
    layer with that layer's weights gives the golden tokens, every layer bit-exact."""
    from mase.compiler.generate import generate

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim"])
    seen = []
    res = generate(tiny_llama, None, cfg.quant, cfg.target, cfg.hw, tmp_path, list(range(3, 9)), 3, "0.1.0", "t",
                   "tiny-llama", None, per_layer=True, progress=lambda layer, rec: seen.append(rec), jobs=2)
    assert sorted(r["layer"] for r in seen) == [0, 1] and all(r["bit_exact"] for r in seen)
    assert res["match"] and res["tokens_hw"] == res["tokens_golden"] and len(res["tokens_hw"]) == 3
    assert abs(res["analytical_error"]) < 0.10


def test_decode_model_of_the_decode_design(tiny_llama):
    """The decode design's lanes and analytical model, without a simulation: its KV caches get lanes
    for their whole context (the V cache's drain, scores.V, Q.K^T; Q.K^T's heads queue their rows),
    and a token costs less by the zero keys its K cache sends after the new key: KV_HEADS x a key's
    beats per later position and layer while Q.K^T's B is on the critical path (tiny-llama mxint4,
    24 tokens: 16 cycles a position, as Verilator measures in test_generate_stage_is_bit_exact)."""
    from mase.compiler.generate import decode_graph
    from mase.compiler.params import choose_parameters, decode_model
    from mase.config import load_group

    g = decode_graph(tiny_llama, "mxint4", 24)
    plan = choose_parameters(g, load_group("target", "sim"), None)
    lanes = {n.op: (plan.nodes[n.name].in_par, plan.nodes[n.name].out_par) for n in g.nodes
             if n.layer == 0 and (n.op in ("matmul_qk", "matmul_sv") or n.attrs.get("along") == "tokens")}
    assert lanes == {"quantize": (8, 1), "matmul_qk": (8, 2), "matmul_sv": (8, 1)}, lanes
    lat = [decode_model(g, plan, c)["latency_cycles"] for c in range(9, 25)]
    assert [a - b for a, b in zip(lat, lat[1:])] == [16] * 15, lat
    # the model: 3,730 at context 9 .. 3,490 at 24 with the short pipelines of target=sim (3,922 .. 3,682
    # without); Verilator, the generate stage's 32-token design: 4,034 at position 8 .. 3,810 at 22 (model +0.4%)
    assert 3_300 < lat[-1] < 3_600, lat
