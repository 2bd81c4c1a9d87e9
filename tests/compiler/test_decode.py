"""The analytical decode model (KV cache): latency vs interval, context scaling, KV-cache size, and its
latency term against a Verilator run of a one-token prompt (a decode step with an empty cache)."""

from __future__ import annotations

import json

import pytest

from mase.compiler.graph import capture
from mase.compiler.params import choose_parameters, cycle_model, decode_model
from mase.config import compose, load_group


@pytest.fixture
def plan_graph(tiny_llama):
    g = capture(tiny_llama, "mxint4", seq_len=8)
    return g, choose_parameters(g, load_group("target", "sim"), None)


def test_batch1_decode_is_the_latency_not_the_interval(plan_graph):
    g, plan = plan_graph
    d = decode_model(g, plan, 8)
    assert d["source"] == "analytical" and "analytical" in d["note"]
    # every layer is a chain of vector times: at least 4 buffering linear stages (qkv, o, gate/up, down)
    assert d["latency_cycles"] > g.layers * 4 * plan.ii
    assert d["ii_cycles"] >= plan.ii and d["latency_cycles"] > d["ii_cycles"]
    assert d["tokens_per_s_batch1"] == pytest.approx(plan.clock_mhz * 1e6 / d["latency_cycles"])
    assert d["tokens_per_s_batched"] == pytest.approx(plan.clock_mhz * 1e6 / d["ii_cycles"])
    assert d["sequences_to_fill"] == -(-d["latency_cycles"] // d["ii_cycles"])
    ends = d["layer_end_cycles"]
    assert ends["0"] < ends["1"] < ends["-1"] == d["latency_cycles"] - 1
    cyc = cycle_model(g, plan)
    assert cyc["decode_cycles_per_token"] == d["latency_cycles"] and cyc["ii"] == plan.ii


def test_attention_grows_with_the_context_and_kv_cache_size(plan_graph):
    g, plan = plan_graph
    a, b, c = (decode_model(g, plan, n) for n in (8, 256, 2048))
    assert a["latency_cycles"] < b["latency_cycles"] < c["latency_cycles"]
    # Q.K^T, softmax and scores.V cost context / lanes: linear in the context (whole blocks of tokens)
    m = decode_model(g, plan, 1024)
    assert (c["latency_cycles"] - m["latency_cycles"]) / 1024 == pytest.approx(
        (m["latency_cycles"] - b["latency_cycles"]) / 768, rel=0.02)
    # K and V of every layer: kv_heads x head_dim (padded to a block) mxint4 codes + a scale byte per 32
    kv = g.layers * 2 * 2 * 32 * (4 + 8 / 32)
    for d, n in ((a, 8), (b, 256), (c, 2048)):
        assert d["kv_cache_bits"] == pytest.approx(n * kv)


def test_hw_report_marks_decode_analytical(tmp_path):
    from mase.pipeline import run

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=u250", "hw.golden=false", "hw.decode_context=64"])
    ctx = run(cfg, tmp_path, stages=["emit", "hw_report"])
    rep = ctx.results["hw_report"]
    assert rep["cycles"]["decode_source"] == "analytical" and rep["cycles"]["decode_context"] == 64
    assert "decode figures analytical" in rep["rtl"] and rep["decode"]["context"] == 64
    assert rep["tokens_per_s"]["decode"] < rep["tokens_per_s"]["decode_batched"]
    assert rep["memory"]["kv_cache_mb"] == pytest.approx(rep["decode"]["kv_cache_bits"] / 8e6)
    assert set(rep["decode"]["by_context"]) == {"64", "256", "2048"}
    saved = json.loads((tmp_path / "report.json").read_text())["hardware"]
    assert saved["cycles"]["decode_cycles_per_token"] == rep["cycles"]["decode_cycles_per_token"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny-opt"])
def test_decode_latency_matches_one_token_simulation(tmp_path, model):
    """A one-token prompt through the generated RTL is a decode step with an empty cache: the model's
    latency (first input beat to last output beat) is within 5% of Verilator's. (tiny-llama's decode
    latency is checked on the decode design itself, test_generate.)"""
    from mase.pipeline import run

    cfg = compose([f"+model={model}", "quant=mxint4", "target=sim", "hw.prompt_tokens=1"])
    ctx = run(cfg, tmp_path, stages=["emit", "lint", "sim", "hw_report"])
    assert ctx.results["sim"]["bit_exact"]
    check = ctx.results["hw_report"]["model_vs_sim"]["decode"]
    assert abs(check["error_pct"]) < 5, check
