"""mx_linear against the golden linear layer, bit for bit, with stalls and back-pressure."""

import hashlib
import json
from pathlib import Path

import pytest
import torch

from mase.eda import build_sim, cache_dir
from mase.eda.mx_linear import (expected_output_beats, input_beats, linear_params, weight_stream_beats,
                                write_linear_images)
from mase.golden import AccSpec, elem_spec, linear_int, requantize

from .mxdata import random_quantized

CONFIGS = [
    # (in, out, K, K_OUT, IN_PAR, OUT_PAR, x, w, o, acc, bias, w_source, fixed scales x/w/o)
    dict(shape=(64, 32, 16, 16, 4, 4), fmts=("mxint4", "mxint4", "mxint4"), acc=(-20, 32), bias=True, ws=0),
    dict(shape=(64, 16, 32, 8, 8, 2), fmts=("mxint8", "mxfp4", "mxfp8_e4m3"), acc=(-24, 40), bias=True, ws=0),
    dict(shape=(32, 16, 8, 16, 8, 16), fmts=("mxfp6_e2m3", "mxint8", "mxint8"), acc=(-16, 28), bias=False, ws=1),
    dict(shape=(32, 16, 16, 16, 4, 4), fmts=("fixed8", "fixed8", "fixed8"), acc=(-16, 32), bias=True, ws=0,
         fixed=(125, 120, 127)),
    # two products per multiplier (DSP_PACK, as synth_xcup packs them), 2 lanes sharing the aligner
    dict(shape=(64, 16, 16, 8, 2, 2), fmts=("mxint4", "mxint4", "mxint4"), acc=(-20, 32), bias=True, ws=0,
         extra={"DSP_PACK": 1}),
    # streamed weights, 3 bias banks of 2 vectors each (layer reuse, hw.fold: a layer's bias per pass)
    dict(shape=(64, 32, 32, 32, 8, 4), fmts=("mxint4", "mxint4", "mxint8"), acc=(-20, 32), bias=True, ws=1,
         extra={"B_BANKS": 3, "B_VECTORS": 2}),
    # few row groups of many input beats (the causal prefill's token path): the first pass reads each beat
    # as it arrives, so the first row group leaves right after the last input beat; SHARE 4 caps G at 4
    dict(shape=(64, 32, 32, 16, 2, 16), fmts=("mxint4", "mxint4", "mxint8"), acc=(-20, 32), bias=True, ws=0,
         extra={"SHARE": 4}, early=True),
    dict(shape=(64, 32, 32, 32, 2, 16), fmts=("mxint4", "mxint4", "mxint4"), acc=(-20, 32), bias=True, ws=1,
         early=True),
    # the short pipeline (SHORT 1: 2 lane stages fewer, mx_quantize SHORT), MX integer / minifloat / fixed8 outputs
    dict(shape=(64, 32, 16, 16, 4, 4), fmts=("mxint4", "mxint4", "mxint4"), acc=(-20, 32), bias=True, ws=0,
         extra={"SHORT": 1}),
    dict(shape=(64, 16, 32, 8, 8, 2), fmts=("mxint8", "mxfp4", "mxfp8_e4m3"), acc=(-24, 40), bias=True, ws=0,
         extra={"SHORT": 1}),
    dict(shape=(32, 16, 16, 16, 4, 4), fmts=("fixed8", "fixed8", "fixed8"), acc=(-16, 32), bias=True, ws=0,
         fixed=(125, 120, 127), extra={"SHORT": 1}),
    dict(shape=(64, 32, 32, 16, 2, 16), fmts=("mxint4", "mxint4", "mxint8"), acc=(-20, 32), bias=True, ws=0,
         extra={"SHARE": 4, "SHORT": 1}, early=True),
]


def _codes(fmt, rows, n, k, gen, fixed):
    if fmt == "fixed8":
        codes = torch.randint(0, 256, (rows, n // k, k), generator=gen)
        return codes, torch.full((rows, n // k), fixed, dtype=torch.int64)
    return random_quantized(fmt, rows, n, k, gen)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(c["fmts"]) + f"-ws{c['ws']}" + "".join(f"-{k}{v}" for k, v in c.get("extra", {}).items()))
def test_mx_linear(cfg):
    fin, fout, k, k_out, ip, op = cfg["shape"]
    xf, wf, of = cfg["fmts"]
    fx, fw, fo = cfg.get("fixed", (None, None, None))
    acc = AccSpec(*cfg["acc"])
    gen = torch.Generator().manual_seed(fin + fout + k + ip)
    tag = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
    p = linear_params(fin, fout, x_format=xf, w_format=wf, o_format=of, k=k, k_out=k_out, in_par=ip,
                      out_par=op, acc=acc, has_bias=cfg["bias"], x_scale=fx, w_scale=fw, o_scale=fo,
                      w_source=cfg["ws"], files_dir=cache_dir() / "images" / f"mx_linear-{tag}")
    p.update(cfg.get("extra", {}))
    nvec = 6
    xc, xs = _codes(xf, nvec, fin, k, gen, fx)
    wc, ws = _codes(wf, fout, fin, k, gen, fw)
    bias = None
    banks, per_bank = p.get("B_BANKS", 1), p.get("B_VECTORS", 1)
    if cfg["bias"]:
        lim = 1 << (acc.width - 1)
        bias = torch.randint(-lim // 8, lim // 8, (banks, fout), generator=gen)
        bias[0, 0], bias[0, 1] = lim - 1, -lim
    xspec, wspec = elem_spec(xf), elem_spec(wf)
    # vector v adds bias bank (v // B_VECTORS) % B_BANKS
    total = torch.cat([linear_int(xspec.to_int(xc[v:v + 1]), xs[v:v + 1], xspec, wspec.to_int(wc), ws, wspec,
                                  None if bias is None else bias[(v // per_bank) % banks], acc) for v in range(nvec)])
    oc, osc = requantize(total, acc.lsb, of, k_out, fo)
    expected = expected_output_beats(p, oc, osc)
    inputs = {"in": input_beats(p, (xc, xs))}
    if cfg["ws"] == 0:
        write_linear_images(p, (wc, ws), None if bias is None else bias[0])
    else:
        inputs["w"] = weight_stream_beats(p, (wc, ws), nvec)
        if bias is not None:  # the bias ROM: the banks one after the other
            from mase.eda.mx_linear import weight_words

            words = [w for b in range(banks) for w in weight_words(p, wc, ws, bias[b])[2]]
            Path(p["B_FILE"]).parent.mkdir(parents=True, exist_ok=True)
            Path(p["B_FILE"]).write_text("".join(w + "\n" for w in words))
    sim = build_sim("mase:mx:mx_linear", p)
    for stall, bp, seed in [(0, 0, 1), (30, 30, 2)]:
        res = sim.run(inputs, {"out": len(expected)}, stall=stall, bp=bp, seed=seed)
        got = res.outputs["out"]
        assert len(got) == len(expected)
        bad = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
        assert not bad, f"stall={stall} bp={bp}: {len(bad)} beats differ, first {bad[0]}: {got[bad[0]]:x} != {expected[bad[0]]:x}"
        if stall == bp == 0:
            s = res.stats
            ideal = nvec * (fin // ip) * (fout // op)
            # one MAC beat per cycle plus latency: the first vector's input beats, the pipeline, and
            # with lanes sharing the quantizer (OUT_PAR > 1) the last output block drained one lane
            # group per cycle (up to K_OUT)
            assert s["out_last"] - s["in_first"] < ideal + fin // ip + 40 + (k_out if op > 1 else 0)
            if cfg.get("early"):  # the first output block one pass after its input began, not after two
                blocks = max(1, k_out // op)  # row groups of the first output block
                share = p.get("SHARE", 1)
                g = max(d for d in range(1, op + 1) if op % d == 0 and d <= k // ip and (share == 1 or d <= share))
                assert s["out_first"] - s["in_first"] < blocks * (fin // ip) + 30 + 2 * g, s
            FIRST[json.dumps(cfg, sort_keys=True)] = s["out_first"] - s["in_first"]


FIRST: dict[str, int] = {}  # configuration -> first output beat after the first input beat (no stalls)


def test_short_pipeline_is_nine_cycles_earlier():
    """SHORT 1 moves mx_linear's first output 9 cycles earlier: 2 lane stages fewer, and mx_quantize SHORT (5
    cycles after a block, not 12; a fixed8 output 3 quantizer stages, not 5: 4 cycles in all),
    whatever the lanes (the configurations above that differ only in SHORT, when they ran in this session)."""
    pairs = 0
    for cfg in CONFIGS:
        if cfg.get("extra", {}).get("SHORT"):
            base = {**cfg, "extra": {k: v for k, v in cfg["extra"].items() if k != "SHORT"}}
            if not base["extra"]:
                del base["extra"]
            a, b = FIRST.get(json.dumps(base, sort_keys=True)), FIRST.get(json.dumps(cfg, sort_keys=True))
            if a is not None and b is not None:
                assert a - b == (4 if cfg.get("fixed") else 9), (cfg, a, b)  # fixed8: 5 -> 3 quantizer stages
                pairs += 1
    if not pairs:
        pytest.skip("run with the test_mx_linear configurations")
