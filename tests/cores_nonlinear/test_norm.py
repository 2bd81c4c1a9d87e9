"""mx_rmsnorm and mx_layernorm against mase.golden.nonlinear.norm_int, bit for bit."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden.nonlinear import NormConfig, norm_eps_code, norm_int

from .util import check_runs, pack, rand_signed

CONFIGS = {  # lanes, n, in_w, in_f, p, g_w, g_f, out_w, out_f, m, k, t_f
    "smollm2-formats": (1, 48, 32, 16, 16, 16, 14, 24, 16, 16, 24, 16),
    "narrow-4-lanes": (4, 32, 12, 6, 4, 10, 8, 12, 8, 12, 18, 12),
}


def _rows(gen, n, in_w, in_f, rows=14):
    x = rand_signed(gen, (rows, n), in_w, min(in_w - 1, in_f + 4))
    x[1] = 0                                   # all-zero row: V = EPS_CODE
    x[2] = 3 << max(0, in_f - 2)               # constant row: zero variance
    x[3] = torch.randint(-4, 5, (n,), generator=gen)  # tiny values
    x[4, 5] = (1 << (in_w - 1)) - 1            # one outlier at full scale
    x[5] = (1 << (in_w - 1)) - 1               # saturating row
    x[6] = -((1 << (in_w - 1)) - 1)
    return x


@pytest.mark.parametrize("kind", ["rmsnorm", "layernorm"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_norm(kind, name):
    lanes, n, in_w, in_f, p, g_w, g_f, out_w, out_f, m, k, t_f = CONFIGS[name]
    sub_mean = kind == "layernorm"
    gen = torch.Generator().manual_seed(n + lanes + sub_mean)
    x = _rows(gen, n, in_w, in_f)
    g = rand_signed(gen, (n,), g_w, g_w - 2)
    b = rand_signed(gen, (n,), out_w, out_w - 4) if sub_mean else None
    eps = norm_eps_code(n, 1e-5, in_f, p)
    cfg = NormConfig(in_w, in_f, p, g_w, out_w, m, k, t_f)
    y = norm_int(x, g, b, cfg, g_f, out_f, eps, sub_mean)
    rows, nb = x.shape[0], n // lanes
    in_beats = pack(x.reshape(rows * nb, lanes), in_w)
    gw = pack(g.reshape(nb, lanes), g_w)
    if sub_mean:
        bw = pack(b.reshape(nb, lanes), out_w)
        gw = [gg | (bb << (lanes * g_w)) for gg, bb in zip(gw, bw)]
    w_beats = gw * rows
    sim = build_sim(f"mase:mx:{kind}", {"LANES": lanes, "N": n, "IN_W": in_w, "G_W": g_w, "G_F": g_f,
                                        "OUT_W": out_w, "OUT_F": out_f, "EPS_CODE": eps, "P": p, "M": m,
                                        "K": k, "T_F": t_f})
    w_bits = lanes * (g_w + (out_w if sub_mean else 0))
    check_runs(sim, {"in": in_beats, "w": w_beats}, len(in_beats), pack(y.reshape(rows * nb, lanes), out_w),
               {"in": lanes * in_w, "w": w_bits}, full_rate=n // lanes >= k - m // 2 + 2 + 16)
