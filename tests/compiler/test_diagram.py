"""hw/dataflow.svg (issue 15, item 4): one box per node of layer 0 (standing for every decoder layer),
coloured by core, with lanes, cycles per token and resources; the bottleneck marked."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mase.compiler.diagram import dataflow_svg


def _node(name, op, layer, ins, outs):
    return {"name": name, "op": op, "layer": layer, "inputs": ins, "outputs": outs, "attrs": {}}


GRAPH = {"model": "toy", "quant": "mxint4", "layers": 2, "inputs": ["x"], "outputs": ["y"], "nodes": [
    _node("model.layers.0.fc", "linear", 0, ["x"], ["h0"]),
    _node("model.layers.0.act", "swiglu", 0, ["h0"], ["a0"]),
    _node("model.layers.1.fc", "linear", 1, ["a0"], ["h1"]),
    _node("model.layers.1.act", "swiglu", 1, ["h1"], ["a1"]),
    _node("model.norm", "rmsnorm", -1, ["a1"], ["y"])]}
PARAMS = {"plan": {"ii": 64, "nodes": {
    "model.layers.0.fc": {"in_par": 8, "out_par": 2, "cycles_per_token": 64, "lut": 900, "dsp": 2, "bram": 1},
    "model.layers.0.act": {"in_par": 1, "cycles_per_token": 32, "lut": 100},
    "model.norm": {"in_par": 1, "cycles_per_token": 32, "lut": 50}}},
    "nodes": {"model.layers.0.fc": {"core": "mase:mx:mx_linear", "module": "mx_linear"},
              "model.layers.0.act": {"core": "mase:mx:swiglu", "module": "mx_swiglu"},
              "model.norm": {"core": "mase:mx:rmsnorm", "module": "mx_rmsnorm"}}}


def test_layers_collapse_and_bottleneck():
    svg = dataflow_svg(GRAPH, PARAMS)
    ET.fromstring(svg)  # well-formed
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert "fc (x2)" in texts and "act (x2)" in texts and "norm" in texts
    assert "lanes 8 x 2, 64 cyc/token (bottleneck)" in texts and "LUT 900 DSP 2 BRAM 1" in texts
    assert svg.count('stroke="#cc0000"') == 1  # only the slowest box
    assert svg.count("<rect x=") == 3 and svg.count("<line ") == 2  # fc -> act -> norm; layer 1 drawn as layer 0
    assert dataflow_svg(GRAPH, PARAMS) == svg  # deterministic
