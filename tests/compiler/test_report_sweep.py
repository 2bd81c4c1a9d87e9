"""The sweep summary: accuracy joined with the hardware section, ratios against the fixed8 run, sweep.json."""

from __future__ import annotations

import json

import pytest

from mase.report import write_json
from mase.report.sweep import SWEEP_FILE, summarize, sweep_rows


def _report(quant, ppl, energy, dynamic, hardware=True):
    rep = {"model": "m", "quant": quant, "ppl": ppl, "ppl_float": 10.0, "delta_ppl_pct": 100 * (ppl - 10) / 10,
           "avg_weight_bits": 8.0, "target": {"name": "u250"}}
    if hardware:
        rep["hardware"] = {"resources": {"LUT": 1000, "DSP": 10, "BRAM": 4, "URAM": 0}, "resources_pct": {},
                           "resources_source": "analytical", "clock_mhz": 300.0,
                           "cycles": {"prefill_cycles_per_token": 900.0, "decode_cycles_per_token": 5000,
                                      "decode_batched_cycles_per_token": 1000, "decode_context": 8},
                           "tokens_per_s": {"decode": 6e4, "decode_batched": 3e5, "prefill": 3e5},
                           "energy": {"energy_per_token_uj": energy, "dynamic_uj": dynamic}, "sim": None,
                           "mapped_nodes": "69/69"}
    return rep


def test_rows_compare_with_fixed8(tmp_path):
    rows = sweep_rows([_report("fixed8", 12.0, 100.0, 10.0), _report("mxint8", 10.5, 100.3, 10.3),
                       _report("mxint4", 11.0, 99.0, 5.0, hardware=False)])
    f8, m8, m4 = rows
    assert f8["energy_vs_fixed8"] == 1.0 and f8["delta_ppl_vs_fixed8_pct"] == 0.0
    assert m8["energy_vs_fixed8"] == pytest.approx(1.003) and m8["dynamic_energy_vs_fixed8"] == pytest.approx(1.03)
    assert m8["delta_ppl_vs_fixed8_pct"] == pytest.approx(-12.5) and m8["baseline"] == "m/fixed8/u250"
    assert not m4["hardware"] and m4["energy_vs_fixed8"] is None and m4["delta_ppl_vs_fixed8_pct"] is not None
    assert m8["decode_cycles_per_token"] == 5000 and m8["tokens_per_s_decode_batched"] == 3e5
    # no fixed8 run: no ratios
    (alone,) = sweep_rows([_report("mxint8", 10.5, 100.3, 10.3)])
    assert alone["energy_vs_fixed8"] is None and alone["baseline"] is None


def test_summary_written_next_to_the_sweep_and_cli(tmp_path, capsys):
    for i, (q, p, e, d) in enumerate((("fixed8", 12.0, 100.0, 10.0), ("mxint8", 10.5, 100.3, 10.3))):
        write_json(tmp_path / f"{i}_m_{q}_u250" / "report.json", _report(q, p, e, d))
    rows = summarize(tmp_path)
    saved = json.loads((tmp_path / SWEEP_FILE).read_text())
    assert saved["baseline_quant"] == "fixed8" and [r["quant"] for r in saved["rows"]] == ["fixed8", "mxint8"]
    assert saved["rows"][1]["energy_vs_fixed8"] == pytest.approx(rows[1]["energy_vs_fixed8"])
    from mase.report.__main__ import main

    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy and hardware" in out and "m/mxint8/u250" in out and "1.003" in out
