"""mx_mul_pipe: the same product for every chunk width CH and latency LAT (self-checking testbench:
random operands and extremes, random clock enable, 10 width/CH/LAT combinations in one model)."""

from mase.eda import build_sim


def test_mul_pipe_chunks_and_latencies():
    sim = build_sim("mase:mx:nl_common", target="sim_mul")
    res = sim.run({}, {}, via_fusesoc=False)
    assert "MUL_ERRORS=0" in res.log, res.log[-2000:]
