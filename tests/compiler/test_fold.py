"""Layer reuse (hw.fold=1, issue 14): one hardware decoder layer computes every layer of the model, the
prompt looped back through an on-chip buffer (mase:mx:loop), each layer's weights streamed from the
memory model layer after layer, its norms' parameters and biases selected by the pass; the whole
model's output bit-exact against the golden model (which does not change: folding is a schedule)."""

from __future__ import annotations

import json

import pytest
import torch

from mase.config import MaseError, compose
from mase.config.validate import validate_config
from mase.pipeline import run


def _distinct_layers(model, seed: int = 0) -> None:
    """Random-init norms have gains of 1 and OPT's biases are 0 in every layer: give every layer its own
    gains, betas and biases, so that a wrong layer's parameters (or none) cannot go unnoticed; layer i's
    norm gains are scaled by 1 + 2i, so that their fixed-point formats (G_F) differ between the layers
    as smollm2-135m's do (the folded norm must hold every layer's)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ".layers." in name:
                p.add_(0.2 * torch.randn(p.shape, generator=gen))
                if "norm.weight" in name:
                    p.mul_(1 + 2 * int(name.split(".layers.")[1].split(".")[0]))


# a 4-layer tiny-llama, its weights streamed from a fast memory model: two passes of fold 2, or of fold 1
FOUR_LAYERS = ["+model=tiny-llama", "quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=10",
               "hw.weights=offchip", "model.tiny.num_layers=4", "hw.prompt_tokens=4"]


def _simulate_folded(tmp_path, overrides: list[str], seed: int):
    """quantize, emit, lint and sim of the config with every layer's gains, betas and biases distinct."""
    from mase.models import load_model

    m, tok = load_model(compose(overrides).model)
    _distinct_layers(m, seed=seed)
    return run(compose(overrides), tmp_path, stages=["quantize", "emit", "lint", "sim"], model=m, tokenizer=tok), m


def test_fold_config_errors():
    def check(*over):
        validate_config(compose(["+model=tiny-llama", "quant=mxint4", *over]))

    check("hw.fold=1", "hw.weights=offchip")
    check("hw.fold=2")  # as many hardware layers as the model has: the spatial design
    check("hw.fold=1", "stages=[quantize,emit,generate]")  # the folded decode design (test_fold_decode.py)
    for over, msg in ((["hw.fold=-2"], r"hw.fold=-2: choose 0 .*, N >= 1 .* or auto"),
                      (["hw.fold=3"], r"hw.fold=3 does not divide the model's 2 decoder layers: choose one of 1, 2, or 0"),
                      (["hw.fold=1", "hw.weights=onchip"], r"hw.fold=1 streams every layer's weights .* hw.weights=offchip"),
                      (["hw.fold=1", "+hw.overrides={model.layers.0.mlp.up_proj:{weights:bram}}"],
                       r"weights=bram: with hw.fold=1 every linear layer's weights are streamed")):
        with pytest.raises(MaseError, match=msg) as e:
            check(*over)
        assert "\n" not in str(e.value)


def test_fold_needs_offchip_memory():
    from mase.compiler.graph import capture
    from mase.compiler.params import choose_parameters
    from mase.models import load_model

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "hw.fold=1"])
    g = capture(load_model("tiny-llama")[0], "mxint4", seq_len=4)
    with pytest.raises(MaseError, match=r"hw.fold=1 streams .* target sim has none .*or use hw.fold=0"):
        choose_parameters(g, cfg.target, cfg.hw)


@pytest.mark.parametrize("model", ["tiny-llama", "tiny-opt"])
def test_fold_shares_norm_formats(model):
    """Layers whose norm gains differ in magnitude get different gain / output formats (G_F, OUT_F) when
    spatial; folded, every layer's norm takes the format that holds all of them (the golden model reads
    the same node attributes), so the hardware layer's parameters match every layer it computes
    (smollm2-135m: input_layernorm G_F 15 vs 16 stopped hw.fold=1). No simulation: test_fold_bit_exact
    runs these gains through Verilator."""
    from mase.compiler.graph import capture
    from mase.models import load_model

    m = load_model(model)[0]
    _distinct_layers(m)

    def formats(fold: int) -> set:
        hw = compose([f"+model={model}", "quant=mxint4", "target=sim", f"hw.fold={fold}"]).hw
        g = capture(m, "mxint4", seq_len=4, hw=hw)
        norms = [n for n in g.nodes if n.op in ("rmsnorm", "layernorm") and n.layer >= 0]
        assert len(norms) == 4
        return {(n.name.split(".layers.")[1].split(".", 1)[1], n.attrs["g_f"], n.attrs["out_f"]) for n in norms}

    assert len(formats(0)) == 4  # the test's premise: each layer's norms differ
    assert len(formats(1)) == 2  # folded: one format per norm of the layer, shared by both layers


@pytest.mark.parametrize("model", ["tiny-llama", "tiny-opt"])
def test_fold_bit_exact(tmp_path, model):
    """2 layers on one hardware layer, 8 tokens: the final norm's output bit-exact in Verilator without and
    with 30% stalls / back-pressure (ports and memory); one layer's nodes built; the memory image holds a
    region per (port, layer); the report names the architecture."""
    from mase.models import load_model

    cfg = compose([f"+model={model}", "quant=mxint4", "target=sim", "target.offchip_bandwidth_gbps=10",
                   "hw.fold=1", "hw.weights=offchip"])
    m, tok = load_model(cfg.model)
    _distinct_layers(m)
    ctx = run(cfg, tmp_path, stages=["quantize", "emit", "lint", "sim", "hw_report"], model=m, tokenizer=tok)
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"] and len(sim["runs"]) == 2
    assert all(r["passed"] and not any(r["mismatches"].values()) for r in sim["runs"])
    hw = tmp_path / "hw"
    man = json.loads((hw / "manifest.json").read_text())
    assert man["fold"]["passes"] == 2 and man["complete"]
    assert "mase:mx:loop" in man["depends"]
    plan = json.loads((hw / "params.json").read_text())
    built = plan["nodes"]
    assert all(".layers.1." not in n for n in built) and any(".layers.0." in n for n in built)
    assert plan["plan"]["fold"] == 1 and plan["plan"]["passes"] == 2 and plan["plan"]["loop"]["beats"] > 0
    amap = json.loads((hw / "mem" / "offchip.json").read_text())
    ports = [w["port"] for w in man["w_ports"]]
    assert [(r["port"], r["layer"]) for r in amap["regions"]] == [(p, lay) for lay in (0, 1) for p in ports]
    assert amap["passes"] == 2 and amap["tokens_per_pass"] == 8
    assert all(r["base_word"] + amap["pass_stride_words"] == s["base_word"]
               for r, s in zip(amap["regions"][:len(ports)], amap["regions"][len(ports):]))
    top = (hw / "rtl" / "mase_top.sv").read_text()
    assert top.count("mx_loop #(") == 1 and ".PASSES(2)" in top and ".REPEAT(8)" in top
    rep = json.loads((tmp_path / "report.json").read_text())["hardware"]
    assert rep["architecture"].startswith("folded: 1 decoder layer x 2 passes, weights off chip")
    cyc = ctx.results["emit"]["cycles"]
    assert cyc["fold"]["passes"] == 2 and cyc["prefill_cycles"] == cyc["fold"]["prefill_cycles"]


@pytest.mark.slow  # ~35 s with the simulation model cached, up to ~60 s cold on the loaded 2-core machine
def test_fold_two_hardware_layers(tmp_path):
    """hw.fold=2 on a 4-layer tiny-llama: hardware layers 0 and 1 compute layers 0, 1 in pass 0 and 2, 3 in
    pass 1 (weights, gains by the pass); bit-exact in both simulation runs; a fold that does not divide
    the layers is refused in one line."""
    from mase.compiler.graph import capture
    from mase.compiler.params import choose_parameters

    over = FOUR_LAYERS
    ctx, m = _simulate_folded(tmp_path, over + ["hw.fold=2"], seed=1)
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"] and len(sim["runs"]) == 2
    plan = json.loads((tmp_path / "hw" / "params.json").read_text())
    assert plan["plan"]["fold"] == 2 and plan["plan"]["passes"] == 2
    assert {n.split(".layers.")[1].split(".")[0] for n in plan["nodes"] if ".layers." in n} == {"0", "1"}
    amap = json.loads((tmp_path / "hw" / "mem" / "offchip.json").read_text())
    assert [r["layer"] for r in amap["regions"]] == [0] * 7 + [1] * 7 + [2] * 7 + [3] * 7
    g = capture(m, "mxint4", seq_len=4)
    with pytest.raises(MaseError, match=r"hw.fold=3 does not divide the 4 decoder layers .*choose one of 1, 2, 4, or 0"):
        choose_parameters(g, ctx.cfg.target, compose(over + ["hw.fold=3"]).hw)


def test_fold_auto():
    """hw.fold=auto: the most spatial design that fits: tiny-llama stays spatial on the U250 and folds to one
    hardware layer on the ECP5-85 (the spatial design needs 129 of its 156 multipliers even at its slowest);
    the choice and the bottleneck are in the plan's notes."""
    from mase.compiler.graph import capture
    from mase.compiler.params import choose_parameters
    from mase.models import load_model

    g = capture(load_model("tiny-llama")[0], "mxint4", seq_len=8)
    for target, fold, note in (("u250", 0, "hw.fold=auto: spatial (2 hardware decoder layers) fits u250; "
                                           "expected bottleneck: compute"),
                               ("ecp5-85k", 1, "hw.fold=auto: 1 hardware decoder layer x 2 passes fits ecp5-85k; "
                                               "expected bottleneck: memory")):
        cfg = compose(["+model=tiny-llama", "quant=mxint4", f"target={target}", "hw.fold=auto"])
        validate_config(cfg)
        plan = choose_parameters(g, cfg.target, cfg.hw)
        assert plan.fold == fold and any(n.startswith(note) for n in plan.notes), plan.notes
    # auto leaves the placer room (params.AUTO_LUT_HEADROOM: 90% of hw.utilization): tiny-opt's spatial design fits the ECP5-85
    # at hw.utilization 0.8 (~76% of its LUT4), which nextpnr could not place (81% after Yosys); auto folds it
    g_opt = capture(load_model("tiny-opt")[0], "mxint4", seq_len=8)
    ecp5 = compose(["+model=tiny-opt", "quant=mxint4", "target=ecp5-85k"])
    assert choose_parameters(g_opt, ecp5.target, ecp5.hw).fold == 1
    spatial = choose_parameters(g_opt, ecp5.target, compose(["+model=tiny-opt", "quant=mxint4", "target=ecp5-85k",
                                                             "hw.fold=0"]).hw)
    assert spatial.fold == 0 and 0.72 < spatial.totals["lut"] / 83640 <= 0.8
    # the spatial design that does not fit names layer reuse first among the fixes, in one line
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "hw.fold=0"])
    with pytest.raises(MaseError, match=r"even at its slowest .*: choose hw.fold=auto \(layer reuse\), a larger "
                                        r"target, lower hw.max_lanes or narrower formats$") as e:
        choose_parameters(g, cfg.target, cfg.hw)
    assert "\n" not in str(e.value)


def test_fold_auto_resolved_before_capture(model="tiny-llama"):
    """hw.fold=auto (the default) is decided before the graph is captured: where it picks the spatial
    design (the U250) every layer keeps its own formats, bit for bit the graph of hw.fold=0; where it
    folds (the ECP5-85) the formats are merged as for hw.fold=1. Weights pinned on chip keep auto spatial,
    and where nothing fits it says so in one line, naming both attempts."""
    from mase.compiler.fold_choice import resolve_fold
    from mase.compiler.graph import capture
    from mase.models import load_model

    m = load_model(model)[0]
    _distinct_layers(m)

    def norm_formats(hw) -> set:
        g = capture(m, "mxint4", seq_len=8, hw=hw)
        return {(n.name, n.attrs["g_f"], n.attrs["out_f"]) for n in g.nodes if n.op in ("rmsnorm", "layernorm")}

    for target, fold, merged in (("u250", 0, False), ("ecp5-85k", 1, True)):
        cfg = compose([f"+model={model}", "quant=mxint4", f"target={target}"])
        assert cfg.hw.fold == "auto"
        hw, notes = resolve_fold(m, "mxint4", cfg.hw, cfg.target, 8)
        assert hw.fold == fold and notes and notes[0].startswith("hw.fold=auto"), notes
        want = compose([f"+model={model}", "quant=mxint4", f"target={target}", f"hw.fold={int(merged)}"]).hw
        assert norm_formats(hw) == norm_formats(want)
    assert norm_formats(compose([f"+model={model}", "quant=mxint4", "hw.fold=0"]).hw) != \
        norm_formats(compose([f"+model={model}", "quant=mxint4", "hw.fold=1"]).hw)  # the premise
    cfg = compose([f"+model={model}", "quant=mxint4", "target=ice40-up5k", "hw.weights=onchip"])
    validate_config(cfg)  # auto with weights on chip: only the spatial design is a candidate
    with pytest.raises(MaseError, match=r"^hw.fold=auto: no design fits ice40-up5k; spatial: (the design needs|"
                                        r"hw.weights=onchip: the weights of .* do not fit)") as e:
        resolve_fold(m, "mxint4", cfg.hw, cfg.target, 8)
    assert "\n" not in str(e.value) and "1 hardware layer" not in str(e.value)
    cfg = compose([f"+model={model}", "quant=mxint4", "target=ice40-up5k"])  # no off-chip memory to fold with
    with pytest.raises(MaseError, match=r"^hw.fold=auto: no design fits ice40-up5k; spatial: .*; 1 hardware layer: "
                                        r"hw.fold=1 streams every layer's weights from off-chip memory") as e:
        resolve_fold(m, "mxint4", cfg.hw, cfg.target, 8)
    assert "\n" not in str(e.value)


@pytest.mark.slow  # ~40-90 s on the loaded 2-core machine
def test_fold_simulates_its_first_layers(tmp_path):
    """The simulation library of a folded design (hw.sim_layers < L, a deep model's default) is the folded
    hardware itself run for its first layers: 4-layer tiny-llama, hw.fold=1, hw.sim_layers=2 -> one
    hardware layer, 2 passes, its output layer 1's, bit-exact in both runs (not a spatial layer 0, which
    is not what synth and pnr build). A count that is not a multiple of N is refused in one line."""
    over = FOUR_LAYERS
    ctx, m = _simulate_folded(tmp_path, over + ["hw.fold=1", "hw.sim_layers=2"], seed=2)
    sim = ctx.results["sim"]
    assert sim["scope"] == "decoder layers 0-1" and sim["bit_exact"] and len(sim["runs"]) == 2
    man = json.loads((tmp_path / "hw_sim" / "manifest.json").read_text())
    assert man["subset"] and man["fold"]["passes"] == 2 and "mase:mx:loop" in man["depends"]
    assert [o["edge"] for o in man["outputs"]] == ["model.layers.1.out"]
    top = (tmp_path / "hw_sim" / "rtl" / "mase_top.sv").read_text()
    assert top.count("mx_loop #(") == 1 and ".PASSES(2)" in top
    with pytest.raises(MaseError, match=r"hw.sim_layers=3 under hw.fold=2: .* simulate a multiple of 2 layers$"):
        run(compose(over + ["hw.fold=2", "hw.sim_layers=3"]), tmp_path / "bad", stages=["emit"], model=m,
            tokenizer=ctx.tokenizer)
