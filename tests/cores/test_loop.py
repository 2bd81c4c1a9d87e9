"""mx_loop (mase:mx:loop, layer reuse): PASSES passes through a model "layer" (+1 behind a FIFO that
holds back a chunk), bit-exact under random stalls and back-pressure, for several sequences."""

import random

import pytest

from mase.eda import build_sim


@pytest.mark.parametrize("beats,passes,depth,hold", [(8, 3, 8, 8), (6, 2, 8, 3), (5, 1, 8, 2)])
@pytest.mark.parametrize("stall,bp", [(0, 0), (40, 40)])
def test_loop(beats, passes, depth, hold, stall, bp):
    width, seqs = 12, 3
    rng = random.Random(beats * 100 + passes + stall)
    data = [rng.randrange(1 << width) for _ in range(beats * seqs)]
    sim = build_sim("mase:mx:loop", {"WIDTH": width, "BEATS": beats, "PASSES": passes, "DEPTH": depth, "HOLD": hold})
    res = sim.run({"in": data}, {"out": len(data)}, stall=stall, bp=bp, seed=beats + stall, widths={"in": width})
    assert res.outputs["out"] == [(x + passes) % (1 << width) for x in data]
