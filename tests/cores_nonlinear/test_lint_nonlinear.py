"""Every non-linear core lints clean (verilator --lint-only -Wall through its FuseSoC lint target), and
the generated ROMs are up to date with mase.golden.nonlinear_tables."""

import pytest

from mase.eda import CORES_DIR, lint
from mase.golden import nonlinear_rtlgen, nonlinear_tables

LINT = [
    ("mase:mx:activation", {"FUNC": 2, "LANES": 2}),
    ("mase:mx:activation", {"FUNC": 0}),
    ("mase:mx:swiglu", {}),
    ("mase:mx:residual_add", {"A_F": 8, "B_F": 12, "OUT_F": 10}),
    ("mase:mx:rope", {"LANES": 2, "HEAD_DIM": 64,
                      "FREQS": nonlinear_tables.rope_freqs_hex(nonlinear_tables.rope_freq_table(64, 1e4))}),
    ("mase:mx:rmsnorm", {"N": 576}),
    ("mase:mx:layernorm", {"N": 48, "LANES": 4}),
    ("mase:mx:softmax", {"N": 512}),
]


@pytest.mark.parametrize("core,params", LINT, ids=[f"{c.split(':')[-1]}-{i}" for i, (c, _) in enumerate(LINT)])
def test_lint(core, params):
    lint(core, params)


def test_generated_roms_up_to_date():
    for rel, fn in nonlinear_rtlgen.FILES.items():
        assert (CORES_DIR / rel).read_text() == fn(), f"{rel} is stale: run python -m mase.golden.nonlinear_rtlgen"
