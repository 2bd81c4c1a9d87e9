"""Text generation under layer reuse (issue 14, hw.fold with the generate stage): the KV-cache decode design
folded onto N hardware decoder layers takes every token through the L / N passes; each hardware layer's
K cache (mase_attn_matmul CHUNK 1) and V cache (mase_transpose_pad STEP 1) hold one bank per layer it
computes, served in turn (BANKS = passes), the token positions advance once per token (HOLD = passes),
the norm ROMs and bias banks switch every pass (one token), and the DMA channels alternate the layers'
regions token by token. The tokens must be the golden model's, bit-exact in Verilator."""

from __future__ import annotations

import json
import re

import pytest

from mase.config import MaseError, compose

from test_fold import _distinct_layers  # tests/compiler is on sys.path (no package)

FOLD_SIM = ["quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=10", "hw.weights=offchip"]


def _decode_plan(model, over: list[str], context: int):
    from mase.compiler.generate import decode_graph
    from mase.compiler.params import choose_parameters

    cfg = compose(over)
    g = decode_graph(model, cfg.quant, context, cfg.hw)
    return g, choose_parameters(g, cfg.target, cfg.hw)


def test_folded_decode_library(tmp_path, tiny_llama):
    """No simulation: the folded decode design's top (tiny-llama, hw.fold=1, 2 passes of one token): the
    loop holds one token, the KV caches have a bank per layer, positions hold for both passes, per-pass
    parameters switch every token, and the memory map alternates the layers' regions token by token."""
    from mase.compiler.library import write_library

    g, plan = _decode_plan(tiny_llama, ["+model=tiny-llama", *FOLD_SIM, "hw.fold=1"], 16)
    assert plan.fold == 1 and plan.passes == 2 and g.decode
    # the other layer's KV caches are counted on chip (BRAM): K 16 tokens x 64 padded mxint4 elements and a
    # scale byte a beat, V 16 x 32 elements of fixed16 (the V cache holds the quantizer's input)
    assert plan.loop["beats"] * plan.loop["lanes"] == 64
    assert plan.loop["kv_extra_bits"] == plan.loop["layer_kv_bits"] > 16 * (64 * 4 + 32 * 16)
    man = write_library(g, plan, None, tmp_path, "0.1.0", "t", compose(["+model=tiny-llama", *FOLD_SIM]).target)
    assert man["complete"] and man["fold"]["passes"] == 2 and man["fold"]["loop"]["rows"] == 1
    top = (tmp_path / "rtl" / "mase_top.sv").read_text()
    assert re.search(r"mx_loop #\(\s*\.WIDTH\(\d+\),\s*\.BEATS\((\d+)\),\s*\.PASSES\(2\)", top)
    assert top.count("mase_attn_matmul #(") == 2 and top.count(".BANKS(2)") == 2  # K cache (Q.K^T) and V cache
    assert "mase_transpose_pad #(" in top and re.search(r"\.STEP\(1\),\s*\.BANKS\(2\)", top)
    assert len(re.findall(r"\.HOLD\(2\)", top)) == 3 and ".TOKENS(" not in top  # softmax position tag, RoPE of q, k
    assert ".REPEAT(1)" in top and ".REPEAT(16)" not in top  # norm gains: one layer's block per pass (token)
    amap = json.loads((tmp_path / "mem" / "offchip.json").read_text())
    assert amap["passes"] == 2 and amap["tokens_per_pass"] == 1
    # each DMA channel buffers hw.dma_fifo_words (512) bus words, at most one pass of its region + 2, at least
    # the bandwidth-delay product (2 x 10 + 4): on this 512-bit bus tiny-llama's regions are 17-68 words
    assert plan.memory["fifo_words"] == 512
    assert all(r["fifo_words"] == max(24, r["words"] + 2) for r in amap["regions"])
    assert amap["dma_buffer_bytes"] == sum(r["fifo_words"] for r in amap["regions"] if r["pass"] == 0) * 64


def test_folded_decode_kv_cache_must_fit(tiny_llama):
    """Every layer's KV cache stays on chip: where they do not fit the target's BRAM, one line naming the
    fix (a shorter decode context or a bigger target), not a design that silently lacks them."""
    over = ["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "hw.fold=1", "target.resources.bram=3",
            "hw.kv_cache=onchip"]  # (auto would put them off chip: tests/compiler/test_kv_offchip.py)
    with pytest.raises(MaseError, match=r"keeps every layer's KV cache on chip: 2 layers x 64 tokens = .* kB, and "
                                        r"needs .* BRAM where ecp5-85k has 3: choose hw.kv_cache=offchip \(or auto\), "
                                        r"a shorter decode context \(fewer hw.prompt_tokens \+ hw.generate_tokens\) or "
                                        r"a bigger target$") as e:
        _decode_plan(tiny_llama, over, 64)
    assert "\n" not in str(e.value)
    # a design of one quant block (32 tokens) is the generate stage's shortest: a shorter context does not help
    with pytest.raises(MaseError, match=r"2 layers x 32 tokens = .*: 32 tokens is its shortest context \(one quant "
                                        r"block\): choose hw.kv_cache=offchip \(or auto\) or a bigger target$"):
        _decode_plan(tiny_llama, over, 32)


def _generate(tmp_path, model: str, over: list[str]):
    from mase.models import load_model
    from mase.pipeline import run

    cfg = compose([f"+model={model}", *FOLD_SIM, *over])
    m, tok = load_model(cfg.model)
    _distinct_layers(m)
    ctx = run(cfg, tmp_path, stages=["quantize", "emit", "generate", "hw_report"], model=m, tokenizer=tok)
    return ctx, json.loads((tmp_path / "hw" / "generate.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny-llama", "tiny-opt"])
def test_folded_generate_is_bit_exact(tmp_path, model):
    """hw.fold=1: 6 greedy tokens after an 8-token prompt (the design holds a 32-token context either way), every layer's gains / betas / biases distinct:
    the folded decode design in Verilator (gated, then 30% stalls and back-pressure on the ports and the
    memory model) gives the golden model's tokens, every output row bit-exact; the decode model follows
    the simulated cycles per token within 5%."""
    ctx, res = _generate(tmp_path, model, ["hw.fold=1", "hw.prompt_tokens=8", "hw.generate_tokens=6"])
    assert res["bit_exact"] and res["match"] and len(res["tokens_hw"]) == 6
    assert res["tokens_hw"] == res["tokens_golden"] == res["tokens_sw"]
    assert {r["stall"] for r in res["runs"]} == {0, 30} and all(r["passed"] for r in res["runs"])
    assert abs(res["analytical_error"]) < 0.05, (res["cycles_per_token"], res["analytical_cycles_per_token"])
    top = (tmp_path / "hw_decode" / "rtl" / "mase_decode.sv").read_text()
    assert ".PASSES(2)" in top and top.count(".BANKS(2)") == 2
    rep = ctx.results["hw_report"]
    assert rep["cycles"]["decode_source"].startswith("simulation") and rep["generate"]["match"]


@pytest.mark.slow
def test_folded_generate_two_hardware_layers(tmp_path):
    """hw.fold=2 on a 4-layer tiny-llama: hardware layers 0 and 1 compute layers 0, 1 in pass 0 and 2, 3 in
    pass 1, each with its two KV cache banks; the generated tokens are the golden model's, bit-exact."""
    _, res = _generate(tmp_path, "tiny-llama", ["hw.fold=2", "model.tiny.num_layers=4", "hw.prompt_tokens=4",
                                                "hw.generate_tokens=4"])
    assert res["bit_exact"] and res["match"] and res["tokens_hw"] == res["tokens_golden"]
    assert len(res["tokens_hw"]) == 4 and len(res["runs"]) == 2
    top = (tmp_path / "hw_decode" / "rtl" / "mase_decode.sv").read_text()
    assert ".PASSES(2)" in top and top.count(".BANKS(2)") == 4  # two hardware layers, K and V caches each
