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
    m = compose(["+model=tiny-llama"]).model
    with pytest.raises(MaseError, match=r"hw.weights='fast': choose one of auto, onchip, offchip"):
        validate_hw(compose(["+model=tiny-llama", "hw.weights=fast"]).hw, m)
    with pytest.raises(MaseError, match=r"hw.bus_bits=100: give a whole number of bytes, 8 to 8192 bits"):
        validate_hw(compose(["+model=tiny-llama", "hw.bus_bits=100"]).hw, m)
    validate_hw(compose(["+model=tiny-llama", "hw.bus_bits=2048", "hw.weights=offchip"]).hw, m)


def test_memory_model_figures():
    """The bus and bandwidth of each target's memory model (documented in mase/compiler/README.md)."""
    from mase.compiler.params import memory_model

    u = memory_model(target("u250"), hw())
    assert (u["bus_bits"], u["latency_cycles"]) == (512, 30)
    assert u["bandwidth_gbps"] == pytest.approx(19.2) and u["target_gbps"] == 77.0  # one DDR4 port of four
    assert memory_model(target("u250"), hw(bus_bits=2048))["bandwidth_gbps"] == pytest.approx(76.8)
    e = memory_model(target("ecp5-85k"), hw())
    assert (e["bus_bits"], e["latency_cycles"], e["bw_milli"]) == (32, 5, 4000)  # 0.2 GB/s at 50 MHz: 4 B a cycle
    assert memory_model(target("sim"), hw()) is None
    s = memory_model(target("sim", offchip_bandwidth_gbps=0.5), hw())
    assert (s["bus_bits"], s["latency_cycles"], s["bw_milli"]) == (512, 10, 5000)
    # the DMA channels' buffers: a real DMA's (hw.dma_fifo_words, default 512 words), at least the bus's
    # bandwidth-delay product (2 x latency + 4), else one line
    assert e["fifo_words"] == s["fifo_words"] == 512
    assert memory_model(target("ecp5-85k"), hw(dma_fifo_words=14))["fifo_words"] == 14
    with pytest.raises(MaseError, match=r"hw.dma_fifo_words=13 is below the bus's bandwidth-delay product \(5 cycles "
                                        r"of latency\): give at least 2 x 5 \+ 4 = 14 words a DMA channel$"):
        memory_model(target("ecp5-85k"), hw(dma_fifo_words=13))


def _fold1_ecp5(graph, **kw):
    return choose_parameters(graph, target("ecp5-85k", **kw), hw(weights="offchip", fold=1))


def test_dma_buffers_are_counted_and_linears_keep_up_with_the_bus(tiny_llama):
    """Each DMA channel's buffer sits on the FPGA: counted in the plan's block RAM (ECP5: 512 x 32 bits, one
    EBR a channel; 14 words are LUT RAM); every streamed linear reads its weights at least at the bus's rate
    (its vector time within the bus time of its weights), so the bus is busy whenever one computes."""
    from mase.compiler.params import _bus_cycles, dma_buffer_blocks

    g = capture(tiny_llama, "mxint4", seq_len=8)
    for gbps in (0.1, 0.2):
        plan = _fold1_ecp5(g, offchip_bandwidth_gbps=gbps)
        lin = [g.node(k) for k, p in plan.nodes.items() if p.op == "linear" and plan.built(k)]
        assert len(lin) == 7 and all(plan.nodes[n.name].weights == "axi" for n in lin)
        for n in lin:
            assert plan.nodes[n.name].cycles_per_token <= _bus_cycles(n, plan.memory), (gbps, n.name)
        blocks = sum(dma_buffer_blocks(n, plan.nodes[n.name], plan.memory, "ecp5") for n in lin)
        assert blocks >= 5  # q, o, gate, up, down: one EBR each
        small = choose_parameters(g, target("ecp5-85k", offchip_bandwidth_gbps=gbps),
                                  hw(weights="offchip", fold=1, dma_fifo_words=14))
        assert sum(dma_buffer_blocks(n, small.nodes[n.name], small.memory, "ecp5") for n in lin) == 0  # LUT RAM
        assert plan.totals["bram"] - small.totals["bram"] == pytest.approx(blocks, abs=2)


def test_decode_model_sees_the_dma_buffers(tiny_llama):
    """The decode model's bus (params._DmaBus): with buffers of the bandwidth-delay product the bus idles
    while attention and the norms compute (every channel full, no linear reading); larger buffers prefetch
    through those stretches. Verilator (tiny-llama mxint4, ecp5-85k, hw.fold=1, 0.1 GB/s, the lanes before
    the bus-rate sizing; benchmarks/bench_offchip_decode.py): 14 words 26,638 cycles a token, 512 words
    23,482, 4,096 words (k/v at the bus's rate) 19,626; the model 27,064, 23,796, 19,767: within 2%."""
    from mase.compiler.generate import decode_graph
    from mase.compiler.params import decode_model

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "target.offchip_bandwidth_gbps=0.1",
                   "hw.weights=offchip", "hw.fold=1"])
    g = decode_graph(tiny_llama, cfg.quant, 32, cfg.hw)
    cyc = {}
    for words in (14, 512, 4096):
        plan = choose_parameters(g, cfg.target, OmegaConf.merge(cfg.hw, {"dma_fifo_words": words}))
        d = decode_model(g, plan, 6)
        cyc[words] = d["latency_cycles"]
        roof = plan.offchip_weight_bits / 8 / plan.memory["bytes_per_cycle"]
        assert d["latency_cycles"] >= max(d["compute_cycles"], roof)
    assert cyc[14] > 1.15 * cyc[512] and cyc[512] >= cyc[4096]
    assert cyc[512] < 19584 / 0.95  # the default buffers: within 5% of the roofline (Verilator: 99.7%)


def _image_beats(hw_dir, amap):
    """Each region of the memory image, unpacked into the port's beats (the address map's layout)."""
    words = (hw_dir / "mem" / amap["file"]).read_text().split()
    assert len(words) == amap["words"] and all(len(w) == amap["bus_bits"] // 4 for w in words)
    raw = b"".join(bytes.fromhex(w)[::-1] for w in words)  # byte 0 = the last two hex digits
    out = {}
    for r in amap["regions"]:
        base = r["base_byte"]
        assert base == r["base_word"] * amap["word_bytes"] and r["bytes"] == r["beats"] * r["beat_bytes"]
        region = raw[base:base + r["words"] * amap["word_bytes"]]
        assert not any(region[r["bytes"]:])  # zero padding to the end of the region's last word
        bb = r["beat_bytes"]
        out[r["port"]] = [int.from_bytes(region[i * bb:(i + 1) * bb], "little") for i in range(r["beats"])]
    return out


@pytest.mark.parametrize("bus_bits", [512, 96, 16])
def test_offchip_image_is_the_fed_beats(tmp_path, tiny_llama, bus_bits):
    """The memory image in the bus layout holds exactly the w_data beats the testbench feeds (the stream
    stimulus of each streamed port, once per input vector), at a bus wider or narrower than a beat; the
    testbench instantiates the memory model with the map's figures."""
    import json

    from mase.compiler.library import write_library

    g = capture(tiny_llama, "mxint4", seq_len=2)
    plan = choose_parameters(g, target("sim", offchip_bandwidth_gbps=1.0), hw(weights="offchip", bus_bits=bus_bits))
    man = write_library(g, plan, None, tmp_path, "0.1.0", "t", target("sim"))
    amap = json.loads((tmp_path / "mem" / "offchip.json").read_text())
    assert amap["bus_bits"] == bus_bits and man["offchip_image"]["words"] == amap["words"]
    assert [r["port"] for r in amap["regions"]] == [w["port"] for w in man["w_ports"]] and len(amap["regions"]) == 14
    assert amap["weight_bytes_per_token"] * 8 >= plan.offchip_weight_bits
    beats = _image_beats(tmp_path, amap)
    for w in man["w_ports"]:
        fed = [int(x, 16) for x in (tmp_path / "stim" / f"{w['port']}.hex").read_text().split()]
        n = len(beats[w["port"]])
        assert fed == beats[w["port"]] * (len(fed) // n) and len(fed) == n * g.seq_len, w["port"]
    tb = (tmp_path / "tb" / "tb_mase_top.sv").read_text()
    assert tb.count("mx_tb_dma #(") == 14 and "mx_tb_mem #(" in tb and "mx_tb_source #(" in tb  # the prompt's source
    milli = min(10000, bus_bits // 8 * 1000)  # 1 GB/s at 100 MHz, at most the bus's width a cycle
    assert f".BUS_BITS({bus_bits})" in tb and f".BW_MILLI({milli})" in tb and '.FILE("offchip.hex")' in tb
    assert "offchip.hex" in (tmp_path / "mase_top.core").read_text()


def test_decode_through_memory_model_narrow_bus(tmp_path):
    """The decode design with every weight streamed through the memory model on a 96-bit bus (beats of
    72, 136 and 272 bits straddle its words) at 0.6 GB/s (6 bytes a cycle at 100 MHz, below what the
    compute would read): the golden tokens, bit-exact without and with random stalls (memory and
    ports); every region read once per input vector, at the bandwidth: the bus busy from its first to
    its last word (memory-bound), and the run no shorter than its bytes' bus time."""
    import json
    import re

    from mase.compiler.generate import generate as generate_tokens
    from mase.models import load_model

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=0.6",
                   "hw.weights=offchip", "hw.bus_bits=96", "model.tiny.num_layers=1"])
    model = load_model(cfg.model)[0]
    res = generate_tokens(model, None, cfg.quant, cfg.target, cfg.hw, tmp_path, [3, 4], 2, "0.1.0", "t", "tiny-llama")
    assert res["bit_exact"] and res["match"] and len(res["runs"]) == 2 and res["lint"]["clean"]
    amap = json.loads((tmp_path / "hw_decode" / "mem" / "mase_decode.offchip.json").read_text())
    log = (tmp_path / "sim_decode" / "gated" / "sim.log").read_text()
    words, first, last = map(int, re.search(r"MASE_TB_MEM words=(\d+) first=(-?\d+) last=(-?\d+)", log).groups())
    assert words == 3 * amap["words"]  # prompt (2 tokens) + 1 generated token fed: 3 passes
    bus = words * 12 / 6  # cycles of 12-byte words at 6 bytes a cycle
    assert bus - 2 <= last - first + 1 <= 1.01 * bus and res["runs"][0]["cycles"] > bus


def test_roofline_in_report():
    """The hardware report's roofline (weight bytes per token / the memory model's bandwidth) next to the
    achieved decode tokens/s: the simulated median where the generate stage ran, else the model's."""
    from mase.compiler.report import offchip_roofline, roofline_line

    mem = {"target_gbps": 0.5, "bus_bits": 512}
    plan = {"offchip_weight_bits": 39168 * 8, "memory": mem}
    r = offchip_roofline(plan, 100.0, {"cycles_per_token_each": [7838, 7877, 7877, 7620, 6290]}, 1.0)
    assert r["tokens_per_s_roofline"] == pytest.approx(0.5e9 / 39168)
    assert r["tokens_per_s_decode"] == pytest.approx(100e6 / 7838) and r["source"].startswith("simulation")
    assert r["fraction"] == pytest.approx(7833.6 / 7838)
    line = roofline_line({"label": "tiny-llama/mxint4", "offchip_roofline": r})
    assert "off-chip roofline 12,766 tok/s (39.2 kB of weights a token at 0.5 GB/s)" in line
    assert "decode b=1 12,758 tok/s = 99.9% of it, simulation" in line
    slow = offchip_roofline(plan, 10.0, None, 123.0)  # a slower clock: the 512-bit bus caps the bandwidth
    assert slow["bandwidth_gbps"] == pytest.approx(0.5) and slow["source"].startswith("analytical")
    assert offchip_roofline(plan, 5.0, None, 1.0)["bandwidth_gbps"] == pytest.approx(0.32)
    assert offchip_roofline({"offchip_weight_bits": 0, "memory": None}, 100.0, None, 1.0) is None


def _real_weight_bytes(prm: dict) -> float:
    """Bytes of a streamed linear's (zero-padded) weights: its elements and one scale byte per row and
    block (none for fixed8's constant scale)."""
    n = prm["OUT_FEATURES"] * prm["IN_FEATURES"]
    return n * prm["W_WIDTH"] / 8 + (n // prm["K"] if prm["W_FIXED_SCALE"] < 0 else 0)


@pytest.mark.parametrize("over", [
    ["quant=mxint4", "target=ecp5-85k", "hw.fold=1"],  # the ECP5's narrow lanes, folded (a region per layer)
    ["quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=1", "+hw.overrides={model.layers.*proj:{in_par:1}}"],
    ["quant=mxfp6", "target=sim", "target.offchip_bandwidth_gbps=1", "+hw.overrides={model.layers.*proj:{in_par:2}}"],
    ["quant=fixed8", "target=sim", "target.offchip_bandwidth_gbps=1"],
], ids=["ecp5_fold1", "in_par1", "mxfp6_in_par2", "fixed8"])
def test_image_bytes_are_the_weight_bytes(tmp_path, over):
    """The compact off-chip stream (mx_wstream_unpack): the bytes on the bus a token are the weights'
    bytes (elements + one scale byte per row and block), each region padded by less than one port beat
    (the image writer checks its beats against the plan's stream_beats / stream_beat_bits, which the
    decode and cycle models count); every generated top puts an mx_wstream_unpack between each w_ port
    and its mx_linear, with the port's beat width."""
    import json

    from mase.eda.mx_linear import wstream_params
    from mase.pipeline import run

    run(compose(["+model=tiny-llama", "hw.weights=offchip", "hw.prompt_tokens=2", *over]), tmp_path,
        stages=["quantize", "emit"])
    hw_dir = tmp_path / "hw"
    amap = json.loads((hw_dir / "mem" / "offchip.json").read_text())
    man = json.loads((hw_dir / "manifest.json").read_text())
    nodes = json.loads((hw_dir / "params.json").read_text())["nodes"]
    top = (hw_dir / "rtl" / "mase_top.sv").read_text()
    port_node = {w["port"]: w["node"] for w in man["w_ports"]}
    real = 0.0
    for r in amap["regions"]:
        prm = nodes[port_node[r["port"]]]["parameters"]
        want = _real_weight_bytes(prm)
        assert want <= r["bytes"] < want + r["beat_bytes"] and r["bytes"] == r["beats"] * r["beat_bytes"], r
        wp = wstream_params(prm)
        assert r["beat_bytes"] == wp["IN_BYTES"] and f".GROUPS({wp['GROUPS']})" in top
        real += want
    assert real <= amap["weight_bytes_per_token"] < real + sum(r["beat_bytes"] for r in amap["regions"])
    assert top.count("mx_wstream_unpack #(") == len(man["w_ports"]) > 0
