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
