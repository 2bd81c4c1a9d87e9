"""The Yosys flow (through FuseSoC/Edalize) runs and reports resources, for iCE40 and UltraScale+."""

import pytest

from mase.eda import EdaError, synth


@pytest.mark.parametrize("arch", ["ice40", "xcup"])
def test_synth_fifo_infers_block_ram(arch):
    r = synth("mase:mx:stream", {"WIDTH": 16, "DEPTH": 512}, arch=arch)
    assert r["BRAM"] >= 0.5 and r["LUT"] > 0 and r["FF"] > 0


def test_synth_dequantize_negative_parameters():
    """Negative parameters (OUT_LSB, FIXED_SCALE) survive Yosys chparam."""
    r = synth("mase:mx:mx_dequantize", {"PAR": 2, "K": 8, "WIDTH": 4, "EBITS": 0, "OUT_W": 12, "OUT_LSB": -6,
                                        "FIXED_SCALE": -1}, arch="ice40")
    assert r["LUT"] > 0 and r["DSP"] == 0


def test_synth_failure_raises_with_log():
    with pytest.raises(EdaError):
        synth("mase:mx:no_such_core", {}, arch="ice40")


def test_yosys_script_skips_autoname(tmp_path):
    """synth_ecp5 / synth_ice40 stop before their `check` label (Yosys 0.23's quadratic autoname) and the
    script runs that label's other commands itself: `stat` still reports the cells; chparam stays fixed."""
    from mase.eda.runner import _patch_yosys_tcl

    tcl = tmp_path / "edalize_yosys_procs.tcl"
    tcl.write_text("chparam -set A -20 top\nproc synth {top} {\nsynth_ecp5  -top $top\n}\n")
    _patch_yosys_tcl(tmp_path)
    text = tcl.read_text()
    assert "chparam -set A 32'shffffffec top" in text
    assert "synth_ecp5  -top $top -run :check\nhierarchy -check\nstat\ncheck -noinit\n" in text
    _patch_yosys_tcl(tmp_path)  # a second patch changes nothing
    assert tcl.read_text() == text


@pytest.mark.parametrize("short", [0, 1])
def test_synth_quantize_and_linear_both_pipelines(short):
    """mx_quantize and mx_linear (its output quantizer and lanes) through Yosys at SHORT 0 and 1: the short
    pipeline (a combinational shared exponent, a scale FIFO of registers, 3 quantizer stages) has fewer FFs."""
    q = {"PAR": 4, "K": 32, "IN_W": 24, "IN_LSB": -12, "WIDTH": 4, "EBITS": 0, "FIXED_SCALE": -1}
    r = synth("mase:mx:mx_quantize", {**q, "SHORT": short}, arch="ice40")
    assert r["LUT"] > 0 and r["FF"] > 0
    lin = synth("mase:mx:mx_linear", {"IN_FEATURES": 64, "OUT_FEATURES": 32, "K": 32, "K_OUT": 32, "IN_PAR": 4,
                                      "OUT_PAR": 2, "HAS_BIAS": 0, "SHORT": short}, arch="ice40")
    assert lin["LUT"] > 0 and lin["FF"] > 0
    if short:
        r0 = synth("mase:mx:mx_quantize", {**q, "SHORT": 0}, arch="ice40")
        assert r["FF"] < r0["FF"], (r, r0)
