"""KV caches of the decode design in off-chip memory (hw.kv_cache, issue 12 §1; mase/compiler/kv_offchip.py):
the choice and its one-line errors, the emitted top (no on-chip caches: mase_kv_stream_k / _v and their
write / read ports), the memory map, the decode model's KV traffic, and (slow) tiny-llama hw.fold=1 with
its caches off chip generating the golden model's 16 tokens, bit-exact with and without random stalls,
its cycles per token within 5% of the decode model."""

from __future__ import annotations

import json
import re

import pytest

from mase.config import MaseError, compose

from test_fold import _distinct_layers  # tests/compiler is on sys.path (no package)

FOLD_SIM = ["+model=tiny-llama", "quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=10",
            "hw.weights=offchip", "hw.fold=1"]


def _decode_plan(model, over: list[str], context: int = 32):
    from mase.compiler.generate import decode_graph
    from mase.compiler.params import choose_parameters

    cfg = compose(over)
    g = decode_graph(model, cfg.quant, context, cfg.hw)
    return g, choose_parameters(g, cfg.target, cfg.hw), cfg


def test_kv_cache_choice(tiny_llama):
    """auto keeps the caches on chip where the plan fits, else off chip (the ECP5 with fewer block RAMs than
    the on-chip caches need, where hw.kv_cache=onchip is refused); the plan's notes name the choice;
    one-line errors otherwise."""
    import math

    ecp5 = ["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "hw.fold=1"]
    _, plan, _ = _decode_plan(tiny_llama, ecp5)
    assert plan.kv_cache == "onchip" and any(n.startswith("KV caches on chip; hw.kv_cache=auto") for n in plan.notes)
    on = plan.totals["bram"]
    _, off, _ = _decode_plan(tiny_llama, [*ecp5, "hw.kv_cache=offchip"])
    assert off.kv_cache == "offchip" and off.totals["bram"] < on  # the other layer's caches leave the chip
    small = [*ecp5, f"target.resources.bram={math.ceil(off.totals['bram'])}"]
    _, plan, _ = _decode_plan(tiny_llama, small)
    assert plan.kv_cache == "offchip" and plan.loop["kv_extra_bits"] == 0
    note = next(n for n in plan.notes if n.startswith("KV caches"))
    assert note.startswith("KV caches in off-chip memory") and "on chip they do not fit" in note
    assert plan.to_dict()["kv_cache"] == "offchip"
    with pytest.raises(MaseError, match=r"choose hw.kv_cache=offchip \(or auto\)"):
        _decode_plan(tiny_llama, [*small, "hw.kv_cache=onchip"])
    with pytest.raises(MaseError, match=r"^hw.kv_cache=offchip keeps the KV caches in off-chip memory but target sim "
                                        r"has none .*: set it, or use hw.kv_cache=onchip$"):
        _decode_plan(tiny_llama, ["+model=tiny-llama", "quant=mxint4", "target=sim", "hw.kv_cache=offchip"])
    from mase.config.validate import validate_hw

    bad = compose(["+model=tiny-llama", "hw.kv_cache=dram"])
    with pytest.raises(MaseError, match=r"^hw.kv_cache='dram': choose one of auto, onchip, offchip$"):
        validate_hw(bad.hw, bad.model)


def test_kv_offchip_library(tmp_path, tiny_llama):
    """No simulation: the folded decode design with its caches off chip has no K replay buffer (Q.K^T's
    mase_attn_matmul without CHUNK, ROWS 1) and no transposer, a mase_kv_stream_k / _v per cache with a
    bank per layer, write / read ports on the top, and the caches' regions after the weights."""
    from mase.compiler.library import write_library
    from mase.compiler.params import decode_model

    g, plan, cfg = _decode_plan(tiny_llama, [*FOLD_SIM, "hw.kv_cache=offchip"])
    man = write_library(g, plan, None, tmp_path, "0.1.0", "t", cfg.target)
    assert man["complete"] and man["kv_cache"] == "offchip"
    top = (tmp_path / "rtl" / "mase_top.sv").read_text()
    assert "mase_transpose_pad #(" not in top and ".CHUNK(" not in top
    assert re.search(r"mase_kv_stream_k #\(\s*\.BW\(\d+\),\s*\.BEATS\(\d+\),\s*\.T\(32\),\s*\.BANKS\(2\)", top)
    assert re.search(r"mase_kv_stream_v #\(.*?\.T_PAD\(32\),\s*\.BANKS\(2\)", top, re.S)
    for port in ("kw_l0_attn_qk", "kr_l0_attn_qk", "vw_l0_attn_v_mx2_q", "vr_l0_attn_v_mx2_q"):
        assert f"{port}_data" in top
    amap = json.loads((tmp_path / "mem" / "offchip.json").read_text())
    first, second = amap["kv_regions"]  # in the order of the nodes: V's quantizer, then Q.K^T
    assert first["base_word"] == amap["words"] and second["base_word"] == first["base_word"] + first["words"]
    k, v = sorted(amap["kv_regions"], key=lambda x: x["kind"])
    assert amap["kv_words"] == k["words"] + v["words"] and k["banks"] == v["banks"] == 2
    assert k["words"] == 2 * 32 * k["row_stride"] and v["words"] == 2 * v["features"] * v["row_stride"]
    tb = (tmp_path / "tb" / "tb_mase_top.sv").read_text()
    assert tb.count("mx_tb_kvwr #(") == 2 and tb.count("mx_tb_kvrd #(") == 2 and ".WPORTS(2)" in tb
    # the decode model counts the caches' traffic: bytes a token grow with the context
    a, b = (decode_model(g, plan, c)["kv_offchip"] for c in (2, 30))
    assert 0 < a["read_bytes"] < b["read_bytes"] and a["write_bytes"] == b["write_bytes"] > 0
    # a spatial design with its weights on chip: a memory of the KV caches alone (no weight regions)
    over = ["+model=tiny-llama", "quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=10",
            "hw.weights=onchip", "hw.fold=0", "hw.kv_cache=offchip"]
    gs, ps, cs = _decode_plan(tiny_llama, over)
    ms = write_library(gs, ps, None, tmp_path / "spatial", "0.1.0", "t", cs.target)
    am = json.loads((tmp_path / "spatial" / "mem" / "offchip.json").read_text())
    assert ms["complete"] and am["words"] == 0 and len(am["kv_regions"]) == 4 and am["kv_regions"][0]["banks"] == 1
    # resources: no on-chip caches beyond the hardware layer's
    _, on, _ = _decode_plan(tiny_llama, [*FOLD_SIM, "hw.kv_cache=onchip"])
    assert on.loop["kv_extra_bits"] > 0 == plan.loop["kv_extra_bits"] and plan.totals["bram"] < on.totals["bram"]


@pytest.mark.slow
def test_smollm2_ecp5_kv_offchip_plan():
    """smollm2-135m on the ECP5-85 (1 layer x 30 passes): its KV caches (645 kB at 32 tokens) do not fit
    on chip, so auto puts them off chip instead of refusing the generate stage's design."""
    from mase.models import load_model

    cfg = compose(["+model=smollm2-135m", "quant=mxint4", "target=ecp5-85k", "hw.fold=1"])
    m, _ = load_model(cfg.model)
    g, plan, _ = _decode_plan(m, ["+model=smollm2-135m", "quant=mxint4", "target=ecp5-85k", "hw.fold=1"])
    assert plan.kv_cache == "offchip" and plan.passes == 30 and plan.totals["bram"] <= 208


@pytest.mark.slow
@pytest.mark.parametrize("target", ["sim", "ecp5-85k"])
def test_generate_kv_offchip(tmp_path, target):
    """tiny-llama hw.fold=1, KV caches off chip: 6 tokens (a 32-token context design either way; the
    16-token generation of the tiny models runs in test_generate), the golden model's and the software model's,
    bit-exact in the gated run and the run with 30% memory stalls / back-pressure; the simulated cycles per
    token within 5% of the decode model (target sim at 10 GB/s: ~80 s with a cold simulation build; the
    ECP5-85's 32-bit SDRAM bus at 0.2 GB/s and 50 MHz: ~170 s, load 4)."""
    from mase.models import load_model
    from mase.pipeline import run

    over = FOLD_SIM if target == "sim" else ["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "hw.fold=1"]
    cfg = compose([*over, "hw.kv_cache=offchip", "hw.generate_tokens=6"])
    m, tok = load_model(cfg.model)
    _distinct_layers(m)
    run(cfg, tmp_path, stages=["quantize", "emit", "generate", "hw_report"], model=m, tokenizer=tok)
    r = json.loads((tmp_path / "hw" / "generate.json").read_text())
    assert r["match"] and r["bit_exact"] and len(r["tokens_hw"]) == 6 and len(r["runs"]) == 2
    assert r["tokens_hw"] == r["tokens_golden"] == r["tokens_sw"]
    assert r["kv_cache"]["where"] == "offchip" and r["kv_cache"]["note"].startswith("KV caches in off-chip memory")
    assert r["kv_cache"]["offchip_traffic"]["read_bytes"] > 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["hardware"]["memory"]["kv_cache_decode"]["where"] == "offchip"
    assert r["runs"][1]["stall"] == 30 and all(x["passed"] for x in r["runs"])
    assert abs(r["analytical_error"]) < 0.05
    log = (tmp_path / "sim_decode" / "gated" / "sim.log").read_text()
    assert "MASE_TB_MEM words=" in log
