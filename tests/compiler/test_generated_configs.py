"""Generated configurations (issue 10): random tiny architectures x formats x block sizes x prompt
lengths, from a seed; each is whole and bit-exact in Verilator, or refused with one line before any
stage wrote a result. `benchmarks/bench_generated_configs.py` runs many more and tabulates them."""

from __future__ import annotations

import pytest

from genconfigs import generate, try_config  # tests/compiler is on sys.path (no package)

SEEDS = range(1000, 1004)  # the default run: 4, the same in every run (benchmarks/bench_generated_configs.py: as many as asked)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_generated_config(tmp_path, seed):
    o = try_config(generate(seed), tmp_path)
    assert o.result in ("bit-exact", "refused"), f"{o.config.name}: {o.result} at {o.stage}: {o.detail}"
    if o.result == "refused":
        assert o.detail and "\n" not in o.detail
