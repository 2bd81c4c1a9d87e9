"""Prompts of any length (issue 10 item 1): whole designs, bit-exact in Verilator, a testbench that
never passes with beats missing, and no partial design reported as a success."""

from __future__ import annotations

import pytest

from mase.config import MaseError, compose
from mase.pipeline import run


@pytest.mark.slow
@pytest.mark.parametrize("model,tokens", [
    ("tiny-llama", 16),  # hung: the Q FIFO was sized at the consumer's lanes (4x short)
    ("tiny-llama", 1),  # Q.K^T rows of 1 score: padded to a block of 8
    ("tiny-opt", 17),  # not a multiple of 8: Q.K^T was left unmapped, the testbench fed the scores
])
def test_prompt_length_is_whole_and_bit_exact(tmp_path, model, tokens):
    cfg = compose([f"+model={model}", "quant=mxint4", "target=sim", f"hw.prompt_tokens={tokens}",
                   "model.tiny.num_layers=1"])
    ctx = run(cfg, tmp_path, stages=["emit", "lint", "sim"])
    assert ctx.results["emit"]["complete"]
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"], sim


def test_graph_fifo_holds_the_prompt_at_the_producer_lanes(tiny_llama):
    """The FIFO in front of Q.K^T's A input sits before the width converter, at the lanes of Q's
    quantizer: it holds the whole prompt of Q counted in those beats."""
    from mase.compiler.graph import capture
    from mase.compiler.params import _beats, choose_parameters, out_lanes
    from mase.config import load_group

    for T in (8, 16, 33):
        g = capture(tiny_llama, "mxint4", seq_len=T)
        plan = choose_parameters(g, load_group("target", "sim"), None)
        qk = g.node("model.layers.0.self_attn.qk")
        q = g.edges[qk.inputs[0]]
        lanes = out_lanes(g.node(q.producer), plan.nodes[q.producer])
        assert plan.nodes[qk.name].fifo_depth[q.name] >= T * _beats(q, lanes)


def test_testbench_fails_with_beats_missing(tmp_path):
    """A run cut short (here by max_cycles) is a failure, never a PASS with the outputs missing."""
    from mase.eda.runner import EdaError
    from mase.eda import verilator

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "model.tiny.num_layers=1"])
    run(cfg, tmp_path, stages=["emit"])
    import json

    man = json.loads((tmp_path / "hw" / "manifest.json").read_text())
    wr = verilator.build(tmp_path / "hw", man["core"], tmp_path / "build" / "sim")
    with pytest.raises(EdaError, match="did not complete"):
        verilator.run(wr, tmp_path / "hw" / "stim", tmp_path / "sim", man, max_cycles=200)
    log = (tmp_path / "sim" / "sim.log").read_text()
    assert "MASE_TB_PASS" not in log and "MASE_TB_FAIL" in log


def test_unmapped_node_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    import mase.compiler.emit as emit

    real = emit.available_cores
    monkeypatch.setattr(emit, "available_cores", lambda roots=None: real(roots) - {"mase:mx:softmax"})
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim"])
    with pytest.raises(MaseError, match=r"nodes have no hardware core, e.g. .*softmax") as e:
        run(cfg, tmp_path, stages=["quantize", "emit", "lint", "sim"])
    assert "\n" not in str(e.value)
    assert not (tmp_path / "hw").exists() and not (tmp_path / "layers.json").exists()


@pytest.mark.parametrize("bad", ["hw.prompt_tokens=0", "hw.prompt_tokens=-3", "hw.prompt_tokens=100000"])
def test_prompt_length_out_of_range_is_one_line(tmp_path, bad):
    with pytest.raises(MaseError, match="hw.prompt_tokens=") as e:
        run(compose(["+model=tiny-llama", "quant=mxint4", bad]), tmp_path, stages=["quantize", "emit"])
    assert "\n" not in str(e.value) and not (tmp_path / "layers.json").exists()
