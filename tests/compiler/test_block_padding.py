"""Sizes that are not whole blocks, and formats the hardware cannot compute (issue 10, items 5 and 6).

Every case either simulates bit-exact in Verilator as a whole model (emit, lint, sim) or is refused
in one line before any work (no stage ran, nothing written). The cores zero-pad a dimension that is
not a multiple of the block, as the MX numerics (and the golden model) do.
"""

from __future__ import annotations

import json

import pytest
import torch

from mase.config import MaseError, compose
from mase.pipeline import run

ONE_LAYER = "model.tiny.num_layers=1"  # a whole model, half the simulation time

# (name, overrides): tiny architectures whose hidden, FFN or KV width is not whole blocks, several
# regressions to one simulation (each a Verilator build): hidden 80 (5 heads), FFN 100, a KV width of
# 16 (grouped-query, one K/V head), block 64 (every linear, head and V row padded), block 16, and the
# minifloat element types whose quantizer had an always-false comparison (Verilator CMPCONST on mxfp4
# and mxfp6: mx_quant_elem's E4M3-only mantissa cap, now generated away)
PADDED = {
    "hidden80_ffn100_mxfp4": ["+model=tiny-llama", "model.tiny.hidden_size=80", "model.tiny.num_heads=5",
                              "model.tiny.num_kv_heads=5", "model.tiny.intermediate_size=100", "quant=mxfp4"],
    "hidden48_kv16_block64_mxfp6": ["+model=tiny-llama", "model.tiny.hidden_size=48", "model.tiny.num_heads=3",
                                    "model.tiny.num_kv_heads=1", "quant.block_size=64", "quant=mxfp6"],
    "opt_ffn100_block16": ["+model=tiny-opt", "model.tiny.intermediate_size=100", "quant.block_size=16",
                           "quant=mxint4"],
}


def _simulate(tmp_path, overrides: list[str]) -> dict:
    cfg = compose([*overrides, "target=sim", ONE_LAYER])
    ctx = run(cfg, tmp_path, stages=["emit", "lint", "sim"])
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"], sim
    assert all(r["passed"] and not any(r["mismatches"].values()) for r in sim["runs"])
    return ctx.results


# ------------------------------------------------------------------------------------------------
# the core's padding (no simulator)
# ------------------------------------------------------------------------------------------------
def test_linear_params_and_images_are_zero_padded():
    from mase.eda.mx_linear import linear_params, pad_weights, weight_words

    p = linear_params(80, 100, x_format="mxint4", w_format="mxint4", o_format="mxint8", k=32, in_par=8, out_par=4)
    assert (p["IN_FEATURES"], p["OUT_FEATURES"]) == (96, 128)
    codes = torch.randint(-7, 8, (100, 3, 32))
    scales = torch.randint(100, 130, (100, 3))
    c, s, b = pad_weights(p, codes, scales, torch.arange(100))
    assert c.shape == (128, 3, 32) and s.shape == (128, 3) and b.shape == (128,)
    assert not c[100:].any() and not s[100:].any() and not b[100:].any() and torch.equal(c[:100], codes)
    ww, sw, bw = weight_words(p, codes, scales, torch.arange(100))
    assert len(ww) == 128 // 4 * 96 // 8 and len(sw) == 128 // 4 * 3 and len(bw) == 128 // 4
    with pytest.raises(ValueError, match="IN_PAR=3 must divide K=32"):
        linear_params(80, 100, x_format="mxint4", w_format="mxint4", o_format="mxint8", k=32, in_par=3)


def test_emit_pads_linear_layers(tmp_path):
    cfg = compose(["+model=tiny-llama", "model.tiny.intermediate_size=100", "quant=mxint4", "target=sim", ONE_LAYER,
                   "hw.golden=false"])
    ctx = run(cfg, tmp_path, stages=["emit"])
    assert ctx.results["emit"]["complete"]
    nodes = json.loads((tmp_path / "hw" / "params.json").read_text())["nodes"]
    up, down = nodes["model.layers.0.mlp.up_proj"]["parameters"], nodes["model.layers.0.mlp.down_proj"]["parameters"]
    assert (up["IN_FEATURES"], up["OUT_FEATURES"]) == (64, 128) and (down["IN_FEATURES"], down["OUT_FEATURES"]) == (128, 64)
    deq = nodes["model.layers.0.up.fx.deq"]["parameters"]
    assert (deq["SEG"], deq["SEG_PAD"]) == (100, 128) and 100 % deq["PAR"] == 0  # the padding is dropped
    assert len((tmp_path / "hw" / "mem" / "l0_mlp_up_proj.w.hex").read_text().split()) == \
        128 * 64 // (up["IN_PAR"] * up["OUT_PAR"])


# ------------------------------------------------------------------------------------------------
# whole models in Verilator
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("case", list(PADDED))
def test_padded_sizes_simulate_bit_exact(tmp_path, case):
    assert _simulate(tmp_path, PADDED[case])["lint"]["clean"]


# ------------------------------------------------------------------------------------------------
# refused before any work
# ------------------------------------------------------------------------------------------------
REFUSED = [
    (["quant=mxfp8", "quant.default.weight=mxfp8_e5m2", "quant.default.act=mxfp8_e5m2"],
     r"quant.default \(act x weight\): mxfp8_e5m2 x mxfp8_e5m2 in blocks of 32 is not supported in hardware.*"
     r"use mxfp8 \(E4M3\)"),
    (["quant=mxfp8", "quant.attention.query=mxfp8_e5m2", "quant.attention.key=mxfp8_e5m2"],
     r"\(query x key\): mxfp8_e5m2 x mxfp8_e5m2"),
    (["quant=mxint4", "+quant.overrides={model.layers.0.mlp.*: {weight: mxfp8_e5m2, act: mxfp8_e5m2}}"],
     r"quant.overrides\['model.layers.0.mlp.\*'\] \(act x weight\)"),
    (["quant=fp32"], r"quant.default.act=fp32 has no hardware element type: choose one of mxint2"),
    (["quant=mxint4", "quant.attention.key=bf16"], r"quant.attention.key=bf16 has no hardware element type"),
    (["quant=mxint4", "quant.attention.enabled=false"], r"set quant.attention.enabled=true"),
]


@pytest.mark.parametrize("overrides,match", REFUSED)
def test_refused_before_any_work(tmp_path, overrides, match):
    cfg = compose(["+model=tiny-llama", *overrides, "target=sim"])  # default stages: quantize, evaluate, emit...
    out = tmp_path / "run"
    with pytest.raises(MaseError, match=match) as e:
        run(cfg, out)
    assert "\n" not in str(e.value) and "stages=[quantize,evaluate,report]" in str(e.value)
    assert not out.exists()  # no quantize / evaluate output: nothing ran


def test_refused_by_the_cli_before_hydra(tmp_path):
    from mase.cli import prevalidate

    with pytest.raises(MaseError, match="not supported in hardware"):
        prevalidate(["+model=tiny-llama", "quant=mxfp8", "quant.default.weight=mxfp8_e5m2",
                     "quant.default.act=mxfp8_e5m2", f"hydra.run.dir={tmp_path}"])
    assert not any(tmp_path.iterdir())


def test_software_only_runs_and_supported_pairs_are_not_refused():
    from mase.compiler.preflight import check_hardware

    check_hardware(compose(["+model=tiny-llama", "quant=fp32", "stages=[quantize,evaluate,report]"]))
    check_hardware(compose(["+model=tiny-llama", "quant=mxfp8", "quant.default.weight=mxfp8_e5m2", "target=sim"]))
    for q in ("mxint4", "mxint4-mixed", "mxint4w8a", "mxint6", "mxint8", "mxfp4", "mxfp6", "mxfp8", "fixed8"):
        check_hardware(compose(["+model=tiny-llama", f"quant={q}", "target=sim"]))
