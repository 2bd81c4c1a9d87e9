"""Weights streamed from off-chip memory (issue 14, first part): the architecture's weight memory
chosen by one key (hw.weights: onchip | offchip | auto), the memory image in the bus layout, and the
testbench's memory model (bandwidth, latency, random stalls) feeding the streamed linear layers."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from mase.compiler.graph import capture
from mase.compiler.params import choose_parameters
from mase.compiler.report import weights_line
from mase.config import MaseError, compose, load_group
from mase.config.validate import validate_hw


@pytest.fixture
def graph(tiny_llama):
    return capture(tiny_llama, "mxint4", seq_len=8)


def hw(**kw):
    return OmegaConf.create({"max_lanes": 64, "utilization": 0.8, "fifo_depth": 4, "overrides": {}, **kw})


def target(name, **kw):
    t = load_group("target", name)
    return OmegaConf.merge(t, kw) if kw else t


def _places(plan):
    return {n: p.weights for n, p in plan.nodes.items() if p.op == "linear"}


def test_weights_key_modes(graph):
    """auto = the greedy placement (all on chip on the U250 for tiny-llama); offchip streams every
    linear layer; onchip keeps them all; the choice is in the plan (params.json) and its one-line summary."""
    u250 = target("u250")
    auto = choose_parameters(graph, u250, hw())
    default = choose_parameters(graph, u250, hw(weights="auto"))
    assert _places(auto) == _places(default) and "axi" not in _places(auto).values()
    assert auto.weights_mode == "auto" and auto.to_dict()["weights_mode"] == "auto"
    off = choose_parameters(graph, u250, hw(weights="offchip"))
    assert set(_places(off).values()) == {"axi"} and len(_places(off)) == 14
    assert off.offchip_weight_bits == sum(p.weight_bits for p in off.nodes.values()) and off.onchip_weight_bits == 0
    assert off.to_dict()["weights_mode"] == "offchip"
    assert "hw.weights=offchip: 0 of 14 linear layers on chip" in weights_line(off.to_dict())
    on = choose_parameters(graph, u250, hw(weights="onchip"))
    assert "axi" not in _places(on).values() and on.offchip_weight_bits == 0
    # the sim target: offchip needs a bandwidth (the memory model's)
    sim = choose_parameters(graph, target("sim", offchip_bandwidth_gbps=1.0), hw(weights="offchip"))
    assert set(_places(sim).values()) == {"axi"}


def test_overrides_win(graph):
    ov = {"model.layers.0.*": {"weights": "bram"}}
    plan = choose_parameters(graph, target("u250"), hw(weights="offchip", overrides=ov))
    places = _places(plan)
    assert all(w == ("bram" if ".layers.0." in n else "axi") for n, w in places.items())
    plan = choose_parameters(graph, target("u250"), hw(weights="onchip", overrides={"*down_proj": {"weights": "axi"}}))
    assert all((w == "axi") == n.endswith("down_proj") for n, w in _places(plan).items())


def test_weights_key_errors(graph):
    with pytest.raises(MaseError, match=r"hw.weights=offchip .* target ecp5-85k has none .*offchip_bandwidth_gbps"):
        choose_parameters(graph, target("ecp5-85k", offchip_bandwidth_gbps=None), hw(weights="offchip"))
    with pytest.raises(MaseError, match=r"hw.weights=offchip .* target sim has none"):
        choose_parameters(graph, target("sim"), hw(weights="offchip"))
    small = target("u250", resources={"bram": 1, "uram": 0})
    with pytest.raises(MaseError, match=r"hw.weights=onchip: the weights of .* do not fit in the on-chip memory of "
                                        r"u250 .*use hw.weights=offchip or auto") as e:
        choose_parameters(graph, small, hw(weights="onchip"))
    assert "\n" not in str(e.value)
    with pytest.raises(MaseError, match=r"hw.weights='fast': choose one of auto, onchip, offchip"):
        validate_hw(compose(["+model=tiny-llama", "hw.weights=fast"]).hw, compose(["+model=tiny-llama"]).model)
