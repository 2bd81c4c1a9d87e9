"""Prefill with causal attention numerics (hw.attention=causal, issue 12 part 2): the prefill design is
the KV-cache datapath fed the whole prompt, row t computed from tokens <= t only (run_graph causal), so
the layers overlap token by token instead of waiting for a block of 32 tokens; Verilator, bit-exact,
and the evaluator's hardware numerics are the same."""

from __future__ import annotations

import json

import pytest
import torch

from mase.compiler.golden import host_embeddings, run_graph
from mase.compiler.graph import capture
from mase.config import compose, load_group
from mase.errors import MaseError


def _causal_graph(model, T):
    from mase.compiler.params import causal_attention

    g = capture(model, "mxint4", seq_len=T)
    g.decode = g.prefill = causal_attention({"attention": "causal"})
    return g


def test_rows_do_not_depend_on_later_tokens(tiny_llama):
    """Row t of the causal prefill design depends on tokens <= t only (so a layer can start it once token
    t's K and V exist): other tokens after 40 leave rows 0..39 as they were, and the first 32 rows are
    the 32-token prompt's. In the block numerics rows 32..39 change (their blocks hold tokens 40..63)."""
    torch.manual_seed(5)
    vocab = tiny_llama.config.vocab_size
    ids = torch.randint(0, vocab, (64,))
    other = torch.cat([ids[:40], torch.randint(0, vocab, (24,))])
    e, e2 = host_embeddings(tiny_llama, ids), host_embeddings(tiny_llama, other)
    g64, g32 = _causal_graph(tiny_llama, 64), _causal_graph(tiny_llama, 32)
    out = g64.outputs[0]
    rows = run_graph(g64, e, causal=True)[out].data
    assert torch.equal(rows[:40], run_graph(g64, e2, causal=True)[out].data[:40])
    assert torch.equal(rows[:32], run_graph(g32, e[:32], causal=True)[out].data)
    b64 = capture(tiny_llama, "mxint4", seq_len=64)
    assert not torch.equal(run_graph(b64, e)[out].data[32:40], run_graph(b64, e2)[out].data[32:40])


def test_evaluator_scores_the_causal_design(tiny_llama):
    """eval.numerics=hardware follows hw.attention: the outputs it scores are the causal design's."""
    from mase.evaluate.hardware import final_norm_outputs

    ids = torch.randint(0, tiny_llama.config.vocab_size, (20,), generator=torch.Generator().manual_seed(1))
    g = _causal_graph(tiny_llama, 20)
    want = run_graph(g, host_embeddings(tiny_llama, ids), causal=True)[g.outputs[0]].data
    assert torch.equal(final_norm_outputs(tiny_llama, ids, "mxint4", {"attention": "causal"}), want)
    assert not torch.equal(final_norm_outputs(tiny_llama, ids, "mxint4", {"attention": "block"}), want)


def test_kv_caches_keep_the_ii_and_the_model_overlaps_layers(tiny_llama):
    from mase.compiler.params import choose_parameters, cycle_model

    g = _causal_graph(tiny_llama, 64)
    plan = choose_parameters(g, load_group("target", "sim"), {"attention": "causal", "fold": 0})
    qk = plan.nodes["model.layers.0.self_attn.qk"]
    assert qk.in_par == 32  # 2 KV heads x 32 (padded) key elements x 64 positions in 128 cycles
    # the producers of the new key / value stream a token at the caches' lanes (no one-lane burst)
    assert plan.nodes["model.layers.0.self_attn.k.mx2.q"].in_par >= 16
    assert plan.nodes["model.layers.0.self_attn.v.fx.deq"].in_par >= 16
    # the token's path is sized for II / 16 (_shorten_token_path): the norms, Q.K^T's output and softmax
    # get more lanes than the II needs, the MLP's linear layers (at hw.max_lanes) keep the II
    assert plan.ii == 128 and plan.nodes["model.layers.0.self_attn.softmax"].in_par >= 16
    cyc = cycle_model(g, plan)
    # 10152 modelled (10506 at II / 4, 10698 before the short pipelines, 12196 at II sizing, one K port)
    assert 64 * plan.ii / cyc["prefill_cycles"] > 0.8


def test_kv_caches_of_four_groups_keep_the_ii(tiny_opt):
    """tiny-opt (4 KV heads) at 64 tokens: its K cache replays each group on its own (mase_attn_matmul
    B_PER_GROUP: 64 beats a token, not 256) and its V cache drains 64 features x 64 tokens at 32 lanes
    (128 cycles, not 256 at a head's 16): the interval is the II (259 cycles a token before)."""
    from mase.compiler.cores import map_node
    from mase.compiler.params import _ALL_CORES, _kv_interval, choose_parameters, cycle_model, decode_model

    g = _causal_graph(tiny_opt, 64)
    plan = choose_parameters(g, load_group("target", "sim"), {"attention": "causal", "fold": 0})
    assert plan.nodes["model.decoder.layers.0.self_attn.v.mx2.q"].in_par == 32
    assert _kv_interval(g, plan) <= plan.ii and decode_model(g, plan, 64)["ii_cycles"] <= plan.ii
    qk = g.node("model.decoder.layers.0.self_attn.qk")
    assert map_node(qk, plan.nodes[qk.name], g, _ALL_CORES).params["B_PER_GROUP"] == 1
    assert 64 * plan.ii / cycle_model(g, plan)["prefill_cycles"] > 0.8  # 10173 modelled, 10201 in Verilator


def test_bad_attention_is_one_line():
    from mase.config.validate import validate_hw

    with pytest.raises(MaseError, match="hw.attention") as exc:  # compose validates the config
        cfg = compose(["+model=tiny-llama", "quant=mxint4", "hw.attention=chunked"])
        validate_hw(cfg.hw, cfg.model)
    assert "\n" not in str(exc.value) and "causal" in str(exc.value)


@pytest.mark.slow
# (tiny-llama at 20 tokens, 0.528, left the suite for its time: other prompt lengths run in test_prompt_lengths)
@pytest.mark.parametrize("model,T,floor", [("tiny-llama", 64, 0.8), ("tiny-opt", 64, 0.8), ("tiny-opt", 7, 0.0)])
def test_causal_prefill_bit_exact_with_stalls(tmp_path, model, T, floor):
    """Bit-exact with and without random stalls / back-pressure; the whole-prompt efficiency at 64 tokens
    reaches the issue's 0.8 (issue 12 part 2): tiny-llama 0.803 measured (10,206 cycles; 0.780 with the token
    path at II / 4 instead of 16, 0.766 before the short pipelines of the quantizers and linear lanes, 0.764
    before the norms' shorter latency, 0.763 before mx_linear's first pass started on a partial vector,
    0.672 before the token's path was sized for II / 4 and the K cache replayed per KV group, block
    numerics 0.405); tiny-opt 0.803 (10,201; 0.784 at II / 4, 0.770 before the short pipelines, was 0.403);
    and the cycle model within 3% (-0.5%, -0.3%); the generated top names the design."""
    from mase.pipeline import run

    cfg = compose([f"+model={model}", "quant=mxint4", "target=sim", f"hw.prompt_tokens={T}", "hw.attention=causal"])
    ctx = run(cfg, tmp_path, stages=["emit", "sim", "hw_report"])
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"] and len(sim["runs"]) == 2, sim
    assert all(r["passed"] and not any(r["mismatches"].values()) for r in sim["runs"])
    check = json.loads((tmp_path / "report.json").read_text())["hardware"]["model_vs_sim"]
    assert abs(check["prefill_error_pct"]) < 3, check
    assert check["efficiency_total"] >= floor, check
    assert f"causal prefill of a {T}-token prompt" in (tmp_path / "hw" / "rtl" / "mase_top.sv").read_text()


def test_hardware_accuracy_is_not_reused_across_attention_numerics():
    """A saved evaluate result (hardware numerics) is stale once hw.attention changes (provenance)."""
    from mase.provenance import record

    block, causal = (compose(["+model=tiny-llama", "quant=mxint4", f"hw.attention={a}"]) for a in ("block", "causal"))
    assert record(block, "evaluate", numerics="hardware")["hash"] != record(causal, "evaluate", numerics="hardware")["hash"]
    assert record(block, "evaluate")["hash"] == record(causal, "evaluate")["hash"]  # the quantized model's: same


def test_short_pipelines_where_the_clock_allows(tiny_llama):
    """The quantizers' and linear lanes' short pipelines (cores' SHORT 1) go to simulation, not to the ECP5-85
    at 50 MHz (0.6 x mx_quantize SHORT's 82.9 MHz out of context) nor the iCE40 (no figure); the cycle model
    takes 7 cycles off an MX quantizer and 9 off a linear layer or attention product with them."""
    from mase.compiler.cores import map_node
    from mase.compiler.params import _ALL_CORES, choose_parameters, short_pipeline, short_saving

    assert short_pipeline(load_group("target", "sim"))
    assert not short_pipeline(load_group("target", "ecp5-85k"))
    assert not short_pipeline(load_group("target", "ice40-up5k"))
    g = _causal_graph(tiny_llama, 20)
    plan = choose_parameters(g, load_group("target", "sim"), {"attention": "causal", "fold": 0})
    seen = set()
    for n in g.nodes:
        p = plan.nodes[n.name]
        assert p.short
        if n.op in ("linear", "quantize", "matmul_qk", "matmul_sv"):
            assert map_node(n, p, g, _ALL_CORES).params["SHORT"] == 1, n.name
            seen.add((n.op, short_saving(n, p, g)))
    assert {("linear", 9), ("quantize", 7), ("matmul_qk", 9), ("matmul_sv", 9)} <= seen, seen
    lin = next(n for n in g.nodes if n.op == "linear")
    plan.nodes[lin.name].short = False
    assert "SHORT" not in map_node(lin, plan.nodes[lin.name], g, _ALL_CORES).params  # the default is not written
