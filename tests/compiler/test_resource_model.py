"""The analytical resource model (mase.compiler.resources) against checked-in Yosys figures.

tests/compiler/data/resource_model.json holds the Yosys figures (synth_ecp5 and synth_xilinx -family
xcup) of every distinct node configuration of tiny-llama and tiny-opt in mxint4, mxint8, mxfp4 and
fixed8, written by `python benchmarks/bench_resource_model.py --write-data ...`. An RTL change that
moves the figures is caught when the JSON is refreshed; refit the coefficients with the same script.
No tool runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mase.compiler import resources as rm

DATA = json.loads((Path(__file__).parent / "data" / "resource_model.json").read_text())["configs"]
TOL = 0.15


def _err(e: float, y: float, res: str) -> float:
    if abs(e - y) <= rm.ABS_TOL[res]:
        return 0.0
    return abs(e - y) / y if y else float("inf")


@pytest.mark.parametrize("arch", ["ecp5", "xcup"])
def test_within_15_percent_of_yosys(arch):
    bad = []
    n = 0
    for d in DATA:
        if d["arch"] != arch:
            continue
        n += 1
        est = rm.estimate(d["core"], d["module"], d["params"], arch)
        for res in rm.KEYS:
            e, y = est[res], d["yosys"][res]
            if _err(e, y, res) > TOL:
                bad.append(f"{d['module']} {rm.describe(d['core'], d['module'], d['params'])} {res}: "
                           f"estimate {e:.1f}, Yosys {y:.1f}")
    assert n >= 20, f"only {n} {arch} configurations in the data"
    assert not bad, "\n".join(bad)


def _linear(fmt_x: tuple, fmt_w: tuple) -> dict:
    (xw, xe, xs), (ww, we, wsc) = fmt_x, fmt_w
    return {"IN_FEATURES": 64, "OUT_FEATURES": 128, "K": 32, "K_OUT": 32, "IN_PAR": 32, "OUT_PAR": 2,
            "X_WIDTH": xw, "X_EBITS": xe, "X_FIXED_SCALE": xs, "W_WIDTH": ww, "W_EBITS": we, "W_FIXED_SCALE": wsc,
            "O_WIDTH": 8, "O_EBITS": 0, "O_FIXED_SCALE": xs, "ACC_LSB": -30, "ACC_W": 32, "HAS_BIAS": 0,
            "W_SOURCE": 0, "ROWS": 1}


@pytest.mark.parametrize("family", ["ecp5", "xcup"])
def test_the_format_enters_not_only_the_width(family):
    int4, fp4 = (4, 0, -1), (4, 2, -1)
    int8, fx8 = (8, 0, -1), (8, 0, 64)
    est = {name: rm.estimate("mase:mx:mx_linear", "mx_linear", _linear(f, f), family)
           for name, f in (("mxint4", int4), ("mxfp4", fp4), ("mxint8", int8), ("fixed8", fx8))}
    assert est["mxfp4"] != est["mxint4"]
    assert est["fixed8"] != est["mxint8"]
    q = {"PAR": 1, "K": 32, "IN_W": 24, "IN_LSB": -19}
    assert (rm.estimate("mase:mx:mx_quantize", "mx_quantize", {**q, "WIDTH": 4, "EBITS": 0, "FIXED_SCALE": -1}, family)
            != rm.estimate("mase:mx:mx_quantize", "mx_quantize", {**q, "WIDTH": 4, "EBITS": 2, "FIXED_SCALE": -1}, family))


def test_the_plan_uses_the_model_of_the_target_family(tiny_llama):
    from omegaconf import OmegaConf

    from mase.compiler.cores import map_node
    from mase.compiler.graph import capture
    from mase.compiler.params import _ALL_CORES, choose_parameters
    from mase.config import load_group

    g = capture(tiny_llama, "mxint4", seq_len=8)
    # tiny-llama needs ~80k LUT4 even at its slowest, more than 80% of the ECP5-85 (utilization 10: plan anyway)
    hw = OmegaConf.create({"max_lanes": 64, "utilization": 10, "fifo_depth": 4, "overrides": {}})
    plans = {fam: choose_parameters(g, load_group("target", t), hw) for fam, t in (("ecp5", "ecp5-85k"),
                                                                                   ("xcup", "u250"))}
    for fam, plan in plans.items():
        for n in g.nodes:
            if n.op not in ("linear", "quantize", "softmax"):
                continue
            p = plan.nodes[n.name]
            inst = map_node(n, p, g, _ALL_CORES)
            est = rm.estimate(inst.vlnv, inst.module, inst.params, fam)
            assert p.dsp == est["dsp"]
            assert p.lut >= round(est["lut"])  # plus the input FIFOs in LUT RAM


def test_buffers_map_onto_the_blocks_yosys_uses():
    """FIFOs, parameter ROMs and row buffers in the target's own block RAMs (rm.ram_blocks), as
    synth_ecp5 mapped them in the folded smollm2-135m (DP16KD / PDPW16KD, 18 Kbit): before, the plan
    counted them in 36 Kbit blocks on every target and put that design at 94 EBR against Yosys' 172."""
    assert rm.ram_blocks("ecp5", 32, 8192) == 16  # the residual stream's FIFO / the fold's loop buffer
    assert rm.ram_blocks("ecp5", 12, 8192) == 6
    assert rm.ram_blocks("ecp5", 16, 17280) == 17  # 30 layers of an RMSNorm's gains (Yosys: 16)
    assert rm.ram_blocks("ecp5", 38, 128) == 2  # a streamed mx_linear's output-quantizer FIFO (PDPW16KD)
    assert rm.ram_blocks("ecp5", 32, 1728) == 4  # mx_norm's three rows of 576
    assert rm.ram_blocks("ecp5", 4, 256) == 0  # LUT RAM
    assert rm.ram_blocks("ice40", 32, 8192) == 64 and rm.block_bits("ice40") == 4096
    assert rm.ram_blocks("virtexuplus", 32, 8192) == 8 and rm.block_bits("ecp5") == 18 * 1024


def test_folded_plan_counts_the_block_rams_yosys_finds(tiny_llama):
    """The folded tiny-llama on the ECP5-85 (hw.fold=1, weights streamed): Yosys synth_ecp5 of the
    whole design counted 49 DP16KD (README "Designs that fit the part"); the plan within 15%. The plan
    also counts the DMA channels' buffers (params.dma_buffer_blocks: beside the generated top, next to
    the DMA engine; one EBR each here), which Yosys of the top does not see."""
    from omegaconf import OmegaConf

    from mase.compiler.graph import capture
    from mase.compiler.params import choose_parameters, dma_buffer_blocks
    from mase.config import load_group

    g = capture(tiny_llama, "mxint4", seq_len=8)
    hw = OmegaConf.create({"max_lanes": 64, "utilization": 0.8, "fifo_depth": 4, "overrides": {}, "fold": 1})
    plan = choose_parameters(g, load_group("target", "ecp5-85k"), hw)
    dma = sum(dma_buffer_blocks(g.node(k), p, plan.memory, "ecp5") for k, p in plan.nodes.items()
              if p.weights == "axi" and plan.built(k))
    assert dma == 7
    assert abs(plan.totals["bram"] - dma - 49) <= 0.15 * 49, plan.totals


def test_weight_roms_count_their_blocks_on_ultrascale():
    """A weight ROM in block RAM takes whole blocks of its shape: smollm2-135m's down_proj (1536 -> 576,
    32 x 2 lanes, mxint4) measured 108.5 RAMB36 in Yosys synth_xilinx (auto's spatial U250 design, per
    node); the fit alone (tiny models, whose ROMs are LUTs there) said 0.25."""
    P = {"IN_FEATURES": 1536, "OUT_FEATURES": 576, "K": 32, "K_OUT": 32, "IN_PAR": 32, "OUT_PAR": 2,
         "W_WIDTH": 4, "W_FIXED_SCALE": -1, "W_SOURCE": 0}
    assert abs(rm.rom_blocks(P, "virtexuplus") - 108.5) <= 0.15 * 108.5
    assert rm.rom_blocks({**P, "W_SOURCE": 1}, "virtexuplus") == 0  # streamed: no ROM
