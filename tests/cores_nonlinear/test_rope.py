"""mx_rope against mase.golden.nonlinear.rope_int, bit for bit (position as an input per beat)."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden import nonlinear_tables as T
from mase.golden.nonlinear import RopeConfig, rope_int

from .util import check_runs, pack, rand_signed

CONFIGS = [  # lanes, head_dim, base, pos_w, in_w, in_f, out_w, out_f
    (1, 64, 100000, 16, 16, 10, 16, 10),
    (2, 16, 10000, 12, 12, 8, 14, 9),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_rope(cfg):
    lanes, d, base, pos_w, in_w, in_f, out_w, out_f = cfg
    gen = torch.Generator().manual_seed(d + lanes)
    vectors = 24
    half = d // 2
    x = rand_signed(gen, (vectors, d), in_w, in_w - 2)
    pos = torch.randint(0, 1 << pos_w, (vectors,), generator=gen)
    pos[:3] = torch.tensor([0, 1, (1 << pos_w) - 1])
    rc = RopeConfig(in_w, in_f, out_w, out_f, pos_w)
    freq = torch.tensor(T.rope_freq_table(d, float(base), rc.phase_f), dtype=torch.int64)
    y_lo, y_hi = rope_int(x[:, :half], x[:, half:], pos[:, None], freq, rc)
    bpv = half // lanes
    # beat (v, b): lanes of pairs b*lanes .. b*lanes+lanes-1 of vector v
    xl = x[:, :half].reshape(vectors * bpv, lanes)
    xh = x[:, half:].reshape(vectors * bpv, lanes)
    pb = pos.repeat_interleave(bpv)
    mask = (1 << in_w) - 1
    beats = [pk_l | (pk_h << (lanes * in_w)) | (int(p) << (2 * lanes * in_w))
             for pk_l, pk_h, p in zip(pack(xl & mask, in_w), pack(xh & mask, in_w), pb)]
    expect = [a | (b << (lanes * out_w)) for a, b in zip(pack(y_lo.reshape(-1, lanes), out_w),
                                                        pack(y_hi.reshape(-1, lanes), out_w))]
    sim = build_sim("mase:mx:rope", {"LANES": lanes, "HEAD_DIM": d, "BASE": base, "POS_W": pos_w,
                                     "IN_W": in_w, "IN_F": in_f, "OUT_W": out_w, "OUT_F": out_f})
    check_runs(sim, {"in": beats}, len(beats), expect, {"in": pos_w + 2 * lanes * in_w})
