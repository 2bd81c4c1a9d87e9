"""Stream primitives (skid buffer, FIFO, fork, join) under random stalls and back-pressure."""

import random

import pytest

from mase.eda import build_sim


@pytest.mark.parametrize("width,depth", [(8, 4), (37, 16)])
@pytest.mark.parametrize("stall,bp", [(0, 0), (40, 40)])
def test_stream(width, depth, stall, bp):
    rng = random.Random(width * 100 + depth + stall)
    beats = [rng.randrange(1 << width) for _ in range(200)] + [0, (1 << width) - 1]
    sim = build_sim("mase:mx:stream", {"WIDTH": width, "DEPTH": depth})
    res = sim.run({"in": beats}, {"out": len(beats)}, stall=stall, bp=bp, seed=depth + stall,
                  widths={"in": width})
    assert res.outputs["out"] == [b | (b << width) for b in beats]
    if stall == 0 and bp == 0:  # one beat per cycle at both ends
        s = res.stats
        assert s["in_last"] - s["in_first"] == len(beats) - 1
        assert s["out_last"] - s["out_first"] == len(beats) - 1
