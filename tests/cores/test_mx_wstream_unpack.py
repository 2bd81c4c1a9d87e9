"""mx_wstream_unpack (cores/mx_linear): the compact off-chip weight stream (one scale byte per row and
block) back into mx_linear's streamed weight words, bit-exact under random stalls and back-pressure,
one word a cycle when the stream keeps up, over several OUT_PAR / IN_PAR / W_WIDTH / K and beat widths
(a gearbox, and the wires-only case of one word per beat)."""

import pytest
import torch

from mase.eda import build_sim
from mase.eda.mx_linear import compact_weight_stream, weight_stream_beats, wstream_params

CORE = "mase:mx:mx_linear"

# (OUT_PAR, IN_PAR, W_WIDTH, K, rows, blocks, W_FIXED_SCALE): ECP5-like narrow beats (IN_PAR 1, 2, 4, 8),
# a padded last beat, a 6-bit format, an odd element field, one block per word (wires), fixed8 (no scales)
CASES = [(1, 2, 4, 32, 3, 2, -1), (1, 1, 4, 32, 2, 2, -1), (1, 8, 4, 32, 3, 3, -1), (2, 4, 6, 16, 4, 3, -1),
         (1, 1, 5, 8, 3, 3, -1), (2, 32, 4, 32, 4, 2, -1), (2, 4, 8, 32, 2, 2, 0)]


def _beats(data: bytes, nbytes: int) -> list[int]:
    return [int.from_bytes(data[i:i + nbytes], "little") for i in range(0, len(data), nbytes)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "op{}_ip{}_w{}_k{}_r{}_b{}_f{}".format(*c))
@pytest.mark.parametrize("stall,bp", [(0, 0), (35, 35)])
def test_wstream_unpack(case, stall, bp):
    op, ip, ww, k, rows, blocks, fixed = case
    gen = torch.Generator().manual_seed(sum(case) + stall)
    p = {"OUT_PAR": op, "IN_PAR": ip, "W_WIDTH": ww, "K": k, "IN_FEATURES": blocks * k, "OUT_FEATURES": rows * op,
         "W_FIXED_SCALE": fixed}
    wp = wstream_params(p)
    vectors = 3  # the matrix once per input vector, each padded to whole beats
    mats = [(torch.randint(0, 1 << ww, (rows * op, blocks, k), generator=gen),
             torch.randint(0, 256, (rows * op, blocks), generator=gen)) for _ in range(vectors)]
    beats = sum((_beats(compact_weight_stream(p, c, s), wp["IN_BYTES"]) for c, s in mats), [])
    expect = sum((weight_stream_beats(p, (c, s if fixed < 0 else torch.zeros_like(s)), 1) for c, s in mats), [])
    sim = build_sim(CORE, wp, target="sim_wstream")
    res = sim.run({"in": beats}, {"out": len(expect)}, stall=stall, bp=bp, seed=3 + stall,
                  widths={"in": 8 * wp["IN_BYTES"]})
    assert res.outputs["out"] == expect
    if stall == 0 and bp == 0:  # one word a cycle (the first word waits for its block's bits)
        s = res.stats
        assert s["out_last"] - s["out_first"] == len(expect) - 1
        assert s["out_first"] - s["in_first"] <= 3


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[4], CASES[5], CASES[6]], ids=lambda c: "op{}_ip{}_w{}".format(*c))
def test_wstream_unpack_lint(case):
    """verilator --lint-only -Wall clean for the gearbox (padded, 6-bit, odd fields) and the wires-only shapes."""
    from mase.eda import lint

    op, ip, ww, k, rows, blocks, fixed = case
    p = {"OUT_PAR": op, "IN_PAR": ip, "W_WIDTH": ww, "K": k, "IN_FEATURES": blocks * k, "OUT_FEATURES": rows * op,
         "W_FIXED_SCALE": fixed}
    lint(CORE, wstream_params(p), target="lint_wstream")
