"""Per-node hardware parameters: balance, divisibility, overrides, placement, errors."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from mase.compiler.graph import capture
from mase.compiler.params import choose_parameters, cycle_model
from mase.config import MaseError, load_group


@pytest.fixture
def graph(tiny_llama):
    return capture(tiny_llama, "mxint4", seq_len=8)


def hw(**kw):
    return OmegaConf.create({"max_lanes": 64, "utilization": 0.8, "fifo_depth": 4, "overrides": {}, **kw})


def test_balanced_throughput(graph):
    plan = choose_parameters(graph, load_group("target", "sim"), hw())
    ii = plan.ii
    for n in graph.nodes:
        p = plan.nodes[n.name]
        assert p.cycles_per_token <= ii
        # the smallest legal parallelism that meets ii: halving it would miss ii (or is not legal)
        if p.lanes > 1 and p.source == "auto":
            assert -(-p.work // (p.lanes // 2)) > ii or n.op != "linear"
    lin = plan.nodes["model.layers.0.mlp.up_proj"]
    assert lin.weights == "bram" and lin.weight_bits == 64 * 128 * 4 + 64 * 128 // 32 * 8
    cyc = cycle_model(graph, plan)
    # decode: one sequence's token latency through every layer (not the pipeline interval ii)
    assert cyc["decode_cycles_per_token"] > graph.layers * 4 * ii and cyc["source"] == "analytical"


def test_lanes_divide_dimensions(graph):
    plan = choose_parameters(graph, load_group("target", "u250"), hw(max_lanes=256))
    for n in graph.nodes:
        p = plan.nodes[n.name]
        if n.op == "linear":
            assert n.attrs["in_features"] % p.in_par == 0 and n.attrs["out_features"] % p.out_par == 0
            assert n.attrs["block"] % p.in_par == 0


def test_override_and_its_errors(graph):
    plan = choose_parameters(graph, load_group("target", "sim"),
                             hw(overrides={"*.mlp.down_proj": {"in_par": 2, "out_par": 4, "fifo_depth": 16}}))
    p = plan.nodes["model.layers.1.mlp.down_proj"]
    assert (p.in_par, p.out_par, p.source) == (2, 4, "override:*.mlp.down_proj")
    assert set(p.fifo_depth.values()) == {16}
    with pytest.raises(MaseError, match=r"hw.overrides\['\*.q_proj'\].in_par=3 does not divide .*choose one of 1, 2, 4"):
        choose_parameters(graph, load_group("target", "sim"), hw(overrides={"*.q_proj": {"in_par": 3}}))
    with pytest.raises(MaseError, match="matches no node"):
        choose_parameters(graph, load_group("target", "sim"), hw(overrides={"*.nope": {"in_par": 2}}))


def test_exceeds_part_is_one_line(graph):
    # the UP5K's SPRAM cannot be initialised, so the weight ROMs meet its 30 EBR first
    with pytest.raises(MaseError, match=r"the design needs \d+ LUT .* ice40-up5k has 5280|do not fit in "
                                        r"on-chip memory of ice40-up5k") as e:
        choose_parameters(graph, load_group("target", "ice40-up5k"), hw())
    assert "\n" not in str(e.value)


def test_fifo_depth_of_skip_connection(graph):
    plan = choose_parameters(graph, load_group("target", "sim"), hw())
    p = plan.nodes["model.layers.0.residual_attn"]
    skip = plan.nodes["model.layers.0.residual_attn"].fifo_depth["embed"]
    assert skip >= graph.seq_len * 64 // p.in_par  # holds the whole prompt while attention buffers K/V


def test_weights_never_go_to_memories_that_start_empty(graph):
    """UltraRAM and SPRAM cannot be initialised at configuration, so no weight ROM lives there: auto puts
    the U250's weights in block RAM (none in URAM), and pinning uram / spram is one line."""
    plan = choose_parameters(graph, load_group("target", "u250"), hw())
    assert {p.weights for p in plan.nodes.values() if p.weights != "none"} == {"bram"}
    assert plan.totals["uram"] == 0
    for place, target in (("uram", "u250"), ("spram", "ice40-up5k")):
        with pytest.raises(MaseError, match=rf"^hw.overrides weights={place} for .*: {place.upper()} cannot be "
                                            r"initialised at configuration.*use weights=bram, axi or auto$"):
            choose_parameters(graph, load_group("target", target),
                              hw(overrides={"*.mlp.down_proj": {"weights": place}}, utilization=100))
