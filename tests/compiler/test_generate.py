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
    assert rep["cycles"]["decode_cycles_per_token"] == res["cycles_per_token"] and rep["cycles"]["decode_context"] == 24
    assert res["bit_exact"] and res["match"] and len(res["tokens_hw"]) == 16
    assert res["tokens_hw"] == res["tokens_golden"]
    assert len(res["cycles_per_token_each"]) == 15 and res["cycles_per_token"] > 0
    # the design replays its whole caches: every generated token costs the same
    assert max(res["cycles_per_token_each"]) - min(res["cycles_per_token_each"]) <= 0.02 * res["cycles_per_token"]
    assert abs(res["analytical_error"]) < 0.10, res["analytical_error"]
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
