"""Error table of the hardware-exact non-linear algorithms (mase.golden.nonlinear) against float.

Inputs are drawn over the ranges measured on smollm2-135m (see the configs' comments); each row
reports the maximum and mean absolute error against the float64 reference, and the maximum error in
units of the output LSB. Deterministic (fixed seed). Usage:

    .venv/bin/python benchmarks/bench_nonlinear_accuracy.py [--markdown] [--ppl [--model smollm2-135m]]

--cores prints, per non-linear core at the smollm2 formats, the simulated throughput (elements per
cycle per lane, no stalls; 1.00 is one beat per cycle) and Yosys resources for iCE40 and UltraScale+.

--ppl adds the perplexity of the model (loaded by mase.models) with float ops, each op hardware-exact
on its own, and all of them, on gensim's lee_background corpus (4096 tokens in windows of 512).
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from mase.golden import nonlinear as G
from mase.golden import nonlinear_tables as T


def _rope_ref(q, pos, base):
    d = q.shape[-1]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    fr = pos[..., None].double() * inv
    emb = torch.cat((fr, fr), -1)
    rot = torch.cat((-q[..., d // 2:], q[..., : d // 2]), -1)
    return q * emb.cos() + rot * emb.sin()


def rows():
    g = torch.Generator().manual_seed(0)

    def randn(*shape, s=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * s

    out = []
    sm = G.SoftmaxConfig()
    for sigma in (1.0, 4.0, 16.0):
        x = randn(64, 512, s=sigma)
        pos = torch.randint(0, 512, (64,), generator=g)
        m = G.causal_mask(pos, 512)
        ref = torch.softmax(x.masked_fill(~m, -math.inf), -1)
        out.append((f"softmax causal, N=512, scores N(0,{sigma:g})", G.hw_softmax(x, m, sm), ref, 2.0**-sm.out_f))
    nc = G.NormConfig()
    w = torch.rand(576, generator=g, dtype=torch.float64) * 3
    b = randn(576, s=0.5)
    for label, x in (("N(0,5)", randn(256, 576, s=5.0)),
                     ("N(0,5) + one 2e4 outlier/row", randn(256, 576, s=5.0).index_put_(
                         (torch.arange(256), torch.zeros(256, dtype=torch.long)), torch.full((256,), 2.0e4, dtype=torch.float64)))):
        ref = x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w
        y = G.hw_rmsnorm(x, w, 1e-5, nc)
        out.append((f"rmsnorm N=576, x {label}", y, ref, None))
        ref = F.layer_norm(x, (576,), w, b, 1e-5)
        out.append((f"layernorm N=576, x {label}", G.hw_layernorm(x, w, b, 1e-5, nc), ref, None))
    ac = G.ActConfig()
    xs = torch.linspace(-40, 40, 200001, dtype=torch.float64)
    for name, fn in (("relu", F.relu), ("gelu", F.gelu), ("silu", F.silu)):
        out.append((f"{name}, x in [-40, 40]", G.hw_act(xs, name, ac), fn(xs), 2.0**-ac.out_f))
    sc = G.SwigluConfig()
    a, u = randn(100000, s=4.0), randn(100000, s=4.0)
    out.append(("swiglu silu(a)*b, a,b N(0,4)", G.hw_swiglu(a, u, sc), F.silu(a) * u, 2.0**-sc.out_f))
    rc = G.ResidualConfig()
    a, u = randn(100000, s=50.0), randn(100000, s=5.0)
    out.append(("residual add, N(0,50)+N(0,5)", G.hw_residual(a, u, rc), a + u, 2.0**-rc.out_f))
    ro = G.RopeConfig()
    q = randn(4, 3, 2048, 64, s=3.0)
    pos = torch.arange(2048)[None, None, :]
    freqs = T.rope_freq_table(64, 1e5, ro.phase_f)
    out.append(("rope d=64 base 1e5, pos<2048, x N(0,3)", G.hw_rope(q, pos, freqs, ro), _rope_ref(q, pos, 1e5), 2.0**-ro.out_f))
    return out


def _corpus_ids(tok, n_tokens: int) -> torch.Tensor:
    from gensim.test.utils import datapath

    from mase.models import tokenize

    text = open(datapath("lee_background.cor"), encoding="utf-8").read()
    return tokenize(tok, text)[:n_tokens]


@torch.no_grad()
def perplexity(model, ids: torch.Tensor, window: int = 512) -> float:
    nll, n = 0.0, 0
    for i in range(0, ids.numel() - 1, window):
        chunk = ids[i:i + window][None]
        if chunk.shape[1] < 2:
            break
        out = model(chunk, labels=chunk)
        nll += float(out.loss) * (chunk.shape[1] - 1)
        n += chunk.shape[1] - 1
    return math.exp(nll / n)


def ppl_table(model_name: str, tokens: int, window: int):
    from mase.golden.nonlinear_patch import apply_hw_nonlinear
    from mase.models import load_model

    model, tok = load_model(model_name)
    ids = _corpus_ids(tok, tokens)
    fam = model.config.model_type
    ops = ["softmax", "rmsnorm", "silu", "swiglu", "rope"] if fam == "llama" else ["softmax", "layernorm", "relu"]
    rows = [("float ops", None), *((f"{op} hw", [op]) for op in ops), ("all hw", ops)]
    base = None
    for label, sel in rows:
        m, _ = load_model(model_name) if sel else (model, tok)
        if sel:
            apply_hw_nonlinear(m, sel)
        p = perplexity(m, ids, window)
        base = base or p
        print(f"{model_name:16s} {label:14s} ppl {p:9.4f}  ({100 * (p / base - 1):+.3f}% vs float ops)", flush=True)


def core_configs():
    from mase.golden.nonlinear import norm_eps_code

    eps576 = norm_eps_code(576, 1e-5, 16, 16)
    eps768 = norm_eps_code(768, 1e-5, 16, 16)
    act = {"LANES": 1, "IN_W": 20, "IN_F": 12, "OUT_W": 20, "OUT_F": 12}
    two = {"LANES": 1, "A_W": 20, "A_F": 12, "B_W": 20, "B_F": 12, "OUT_W": 24, "OUT_F": 10}
    res = {"LANES": 1, "A_W": 32, "A_F": 16, "B_W": 32, "B_F": 16, "OUT_W": 32, "OUT_F": 16}
    norm = {"LANES": 1, "IN_W": 32, "G_W": 16, "G_F": 14, "OUT_W": 24, "OUT_F": 16, "P": 16, "M": 16, "K": 24,
            "T_F": 16}
    return [  # label, core, parameters, inputs builder kind
        ("relu", "mase:mx:activation", {**act, "FUNC": 0}, "elem"),
        ("gelu", "mase:mx:activation", {**act, "FUNC": 1}, "elem"),
        ("silu", "mase:mx:activation", {**act, "FUNC": 2}, "elem"),
        ("swiglu", "mase:mx:swiglu", two, "two"),
        ("residual_add", "mase:mx:residual_add", res, "two"),
        ("rope d=64", "mase:mx:rope", {"LANES": 1, "HEAD_DIM": 64,
                                        "FREQS": T.rope_freqs_hex(T.rope_freq_table(64, 1e5)), "POS_W": 16, "IN_W": 16,
                                        "IN_F": 10, "OUT_W": 16, "OUT_F": 10}, "rope"),
        ("rmsnorm N=576", "mase:mx:rmsnorm", {**norm, "N": 576, "EPS_CODE": eps576}, "norm"),
        ("layernorm N=768", "mase:mx:layernorm", {**norm, "N": 768, "EPS_CODE": eps768}, "norm"),
        ("softmax N=512", "mase:mx:softmax", {"LANES": 1, "N": 512, "POS_W": 16, "IN_W": 20, "IN_F": 10,
                                              "OUT_F": 16, "R_F": 20}, "softmax"),
    ]


def _throughput(core, params, kind) -> float:
    """Elements per cycle per lane over a few rows / 2048 beats, nothing stalled."""
    import random

    from mase.eda import build_sim

    rng = random.Random(0)
    sim = build_sim(core, params)
    if kind in ("elem", "rope"):
        n = 2048
        w = params["IN_W"] * (2 if kind == "rope" else 1) + (params.get("POS_W", 0) if kind == "rope" else 0)
        ins = {"in": [rng.getrandbits(w) for _ in range(n)]}
    elif kind == "two":
        n = 2048
        ins = {"a": [rng.getrandbits(params["A_W"]) for _ in range(n)],
               "b": [rng.getrandbits(params["B_W"]) for _ in range(n)]}
    elif kind == "norm":
        n = params["N"] * 6
        ww = params["G_W"] + (params["OUT_W"] if "layernorm" in core else 0)
        ins = {"in": [rng.getrandbits(20) for _ in range(n)], "w": [rng.getrandbits(ww - 2) for _ in range(n)]}
    else:
        n = params["N"] * 6
        ins = {"in": [rng.getrandbits(12) | (params["N"] - 1) << 20 for _ in range(n)]}
    r = sim.run(ins, {"out": n})
    span = r.stats["out_last"] - r.stats["out_first"] + 1
    return n / span


def cores_table(only: list[str] | None = None):
    from mase.eda import synth

    print(f"{'core':18s} {'elem/cycle/lane':>16s} | {'iCE40 LUT':>9s} {'FF':>6s} {'DSP':>4s} {'BRAM':>5s} | "
          f"{'xcup LUT':>8s} {'FF':>6s} {'DSP':>4s} {'BRAM':>5s}", flush=True)
    for label, core, params, kind in core_configs():
        if only and not any(o in label for o in only):
            continue
        thr = _throughput(core, params, kind)
        cols = []
        for arch in ("ice40", "xcup"):
            try:
                r = synth(core, params, arch=arch)
                cols.append(f"{r['LUT']:>9d} {r['FF']:>6d} {r['DSP']:>4d} {r['BRAM']:>5g}")
            except Exception as e:  # keep the table going; report what failed
                cols.append(f"{'failed: ' + type(e).__name__:>27s}")
        print(f"{label:18s} {thr:16.3f} | {cols[0]} | {cols[1]}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--ppl", action="store_true")
    ap.add_argument("--cores", action="store_true")
    ap.add_argument("--only", nargs="*", help="with --cores: rows whose label contains one of these")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--window", type=int, default=512)
    args = ap.parse_args()
    if args.cores:
        cores_table(args.only)
        return
    if args.ppl:
        ppl_table(args.model, args.tokens, args.window)
        return
    table = []
    for name, y, ref, lsb in rows():
        err = (y.double() - ref.double()).abs()
        mx, mean = float(err.max()), float(err.mean())
        rel = mx / float(ref.abs().max())
        table.append((name, mx, mean, rel, f"{mx / lsb:.1f}" if lsb else "-"))
    head = ("operation / inputs", "max abs err", "mean abs err", "max err / max|ref|", "max err (out LSB)")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in table:
            print(f"| {r[0]} | {r[1]:.3g} | {r[2]:.3g} | {r[3]:.3g} | {r[4]} |")
    else:
        print(f"{head[0]:48s} {head[1]:>12s} {head[2]:>12s} {head[3]:>18s} {head[4]:>18s}")
        for r in table:
            print(f"{r[0]:48s} {r[1]:12.3g} {r[2]:12.3g} {r[3]:18.3g} {r[4]:>18s}")


if __name__ == "__main__":
    main()
