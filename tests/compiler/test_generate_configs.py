"""The KV-cache decode design over generated configurations (issue 12): random tiny architectures,
formats, block sizes, prompt and generation lengths (tests/compiler/genconfigs.py); each is linted
and generates the golden model's greedy tokens bit-exactly in Verilator, or is refused with one line.
`benchmarks/bench_generated_configs.py --decode` runs many more."""

from __future__ import annotations

import json

import pytest

from genconfigs import generate, try_config  # tests/compiler is on sys.path (no package)
from mase.config import compose

DECODE_SEEDS = (1003,)  # one of the prefill test's configurations, decoded (fixed8, GQA, biases, block 16); the benchmark runs more


@pytest.mark.slow
@pytest.mark.parametrize("seed", DECODE_SEEDS)
def test_generated_config_decodes(tmp_path, seed):
    o = try_config(generate(seed), tmp_path, decode=True)
    assert o.result in ("bit-exact", "refused"), f"{o.config.name}: {o.result} at {o.stage}: {o.detail}"
    if o.result == "refused":
        assert o.detail and "\n" not in o.detail


@pytest.mark.slow
def test_generation_with_streamed_weights(tmp_path):
    """Weights streamed from off-chip memory (W_SOURCE 1 linears, the testbench's sources as the
    memory port, once per token): lint clean, the golden tokens, bit-exact with random stalls on
    every port, and the same cycles per token as on-chip weights when the port never stalls."""
    from mase.compiler.generate import generate as generate_tokens

    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "target.offchip_memory_gb=1",
                   "target.offchip_bandwidth_gbps=10", "+hw.overrides={model.layers.*:{weights:axi}}",
                   "model.tiny.num_layers=1"])
    from mase.models import load_model

    model = load_model(cfg.model)[0]
    res = generate_tokens(model, None, cfg.quant, cfg.target, cfg.hw, tmp_path, [3, 4, 5], 3, "0.1.0", "t",
                          "tiny-llama")
    man = json.loads((tmp_path / "hw_decode" / "params.json").read_text())
    streamed = [n for n, p in man["plan"]["nodes"].items() if p["weights"] == "axi"]
    assert len(streamed) == 7, streamed  # q, k, v, o, gate, up and down
    assert res["lint"]["clean"] and res["bit_exact"] and res["match"] and len(res["runs"]) == 2
    assert res["tokens_hw"] == res["tokens_golden"] and len(res["tokens_hw"]) == 3
    assert abs(res["analytical_error"]) < 0.10, res["analytical_error"]
