"""Helpers of the non-linear core tests: beat packing and the stall/back-pressure runs."""

from __future__ import annotations

import torch

from mase.eda import pack_fields, unpack_fields

RUNS = [(0, 0, 1), (35, 40, 2)]  # (stall %, back-pressure %, seed)


def pack(rows: torch.Tensor, bits: int) -> list[int]:
    """(beats, lanes) signed ints -> one int per beat, lane 0 in the low bits."""
    return [pack_fields(r, bits) for r in rows.tolist()]


def unpack(words: list[int], bits: int, lanes: int, signed: bool = True) -> torch.Tensor:
    return torch.tensor([unpack_fields(w, bits, lanes, signed) for w in words], dtype=torch.int64)


def rand_signed(gen: torch.Generator, shape, width: int, scale_bits: int | None = None) -> torch.Tensor:
    """Random codes of `width` bits, mostly of magnitude < 2**scale_bits, plus the extremes."""
    lim = (1 << (width - 1)) - 1
    sb = scale_bits if scale_bits is not None else width - 1
    x = torch.randint(-(1 << sb), 1 << sb, shape, generator=gen)
    flat = x.view(-1)
    n = flat.numel()
    k = max(1, n // 50)
    flat[torch.randint(0, n, (k,), generator=gen)] = lim
    flat[torch.randint(0, n, (k,), generator=gen)] = -lim
    flat[torch.randint(0, n, (k,), generator=gen)] = 0
    return x.clamp(-lim, lim)


def check_runs(sim, inputs: dict, n_out: int, expect: list[int], widths: dict, full_rate: bool = True):
    for stall, bp, seed in RUNS:
        res = sim.run(inputs, {"out": n_out}, stall=stall, bp=bp, seed=seed, widths=widths)
        got = res.outputs["out"]
        bad = [i for i, (g, e) in enumerate(zip(got, expect)) if g != e]
        assert not bad, f"stall={stall} bp={bp}: {len(bad)} beats differ, first at {bad[0]}: {got[bad[0]]:x} != {expect[bad[0]]:x}"
        if stall == bp == 0 and full_rate:
            n_in = len(next(iter(inputs.values())))
            assert res.stats["in_last"] - res.stats["in_first"] == n_in - 1, "not one beat per cycle"
    return res
