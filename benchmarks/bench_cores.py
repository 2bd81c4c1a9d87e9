"""Figures of the mase:mx core library (issue 4).

1. Throughput: beats per cycle of each core with no stalls against the ideal of one beat per cycle
   (mx_linear and mx_matmul: MAC beats, i.e. in*out/(IN_PAR*OUT_PAR) cycles per vector). Measured
   as the difference of two runs of different lengths, so the fill latency cancels.
2. Yosys resources of mx_linear at one parallelism in mxint4/6/8, mxfp4/6/8 and fixed8, for iCE40
   (synth_ice40) and UltraScale+ (synth_xilinx -family xcup -flatten), in total and per MAC (multiplier).
3. Verilator speed (simulated cycles per second) of mx_linear at a realistic size.
4. With --fmax: nextpnr fmax, out of context on the ECP5-85 (speed 6) for the mx_linear rows of 2.
   and for the linear-algebra cores at the parameters the compiler generates for tiny-llama mxint4
   (and smollm2-135m's widths), and on the iCE40UP5K (shift-register harness) where they fit; with
   nextpnr's critical path (first and last cell). Slow: about 15 minutes on an idle 2-core machine.

    python benchmarks/bench_cores.py [--quick] [--json out.json] [--skip-synth] [--fmax]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from mase.eda import build_sim, cache_dir, pack_fields, synth
from mase.eda.mx_linear import input_beats, linear_params, weight_stream_beats, write_linear_images
from mase.golden import AccSpec

GEN = torch.Generator().manual_seed(0)


def _span(res, first="in_first", last="out_last"):
    return res.stats[last] - res.stats[first]


def _ratio(sim, make, n1, n2, ideal_per_unit, first="in_first", outputs="out", **kw):
    """ideal cycles / measured cycles between runs of n1 and n2 units (vectors, blocks, beats)."""
    spans = []
    for n in (n1, n2):
        inputs, n_out = make(n)
        res = sim.run(inputs, {outputs: n_out}, **kw)
        spans.append(_span(res, first))
    return ideal_per_unit * (n2 - n1) / (spans[1] - spans[0])


def throughput() -> dict:
    out = {}
    # stream chain: one beat per cycle
    sim = build_sim("mase:mx:stream", {"WIDTH": 16, "DEPTH": 16})
    out["stream (skid+fifo+fork+join)"] = _ratio(sim, lambda n: ({"in": list(range(n))}, n), 64, 512, 1)
    # dot product: K/PAR beats per block
    k, par = 32, 8
    sim = build_sim("mase:mx:mx_dot_product", {"PAR": par, "K": k, "A_WIDTH": 4, "A_EBITS": 0, "B_WIDTH": 4, "B_EBITS": 0})
    mk = lambda n: ({"in": [torch.randint(0, 1 << 62, (1,), generator=GEN).item() for _ in range(n * k // par)]}, n)
    out["mx_dot_product mxint4 K=32 PAR=8"] = _ratio(sim, mk, 16, 128, k // par)
    # quantize / dequantize: one beat per cycle
    sim = build_sim("mase:mx:mx_quantize", {"PAR": 4, "K": 32, "IN_W": 24, "IN_LSB": -12, "WIDTH": 4, "EBITS": 0,
                                            "FIXED_SCALE": -1})
    mk = lambda n: ({"in": [pack_fields(torch.randint(-1000, 1000, (4,), generator=GEN).tolist(), 24)
                            for _ in range(n * 8)]}, n * 8)
    out["mx_quantize mxint4 K=32 PAR=4"] = _ratio(sim, mk, 16, 128, 8)
    sim = build_sim("mase:mx:mx_dequantize", {"PAR": 4, "K": 32, "WIDTH": 4, "EBITS": 2, "OUT_W": 16,
                                              "OUT_LSB": -8, "FIXED_SCALE": -1})
    mk = lambda n: ({"in": [torch.randint(0, 1 << 24, (1,), generator=GEN).item() | (127 << 16) for _ in range(n)]}, n)
    out["mx_dequantize mxfp4 K=32 PAR=4"] = _ratio(sim, mk, 128, 1024, 1)
    # mx_linear: MAC beats per vector
    for ws in (0, 1):
        p = linear_params(128, 64, x_format="mxint4", w_format="mxint4", o_format="mxint4", k=32, in_par=8,
                          out_par=8, acc=AccSpec(-20, 32), w_source=ws,
                          files_dir=cache_dir() / "images" / "bench-thr")
        wc = torch.randint(0, 16, (64, 4, 32), generator=GEN)
        wsc = torch.randint(120, 130, (64, 4), generator=GEN)
        if ws == 0:
            write_linear_images(p, (wc, wsc), torch.zeros(64, dtype=torch.int64))
        sim = build_sim("mase:mx:mx_linear", p)

        def mk(n, p=p, ws=ws, wc=wc, wsc=wsc):
            x = (torch.randint(0, 16, (n, 4, 32), generator=GEN), torch.randint(120, 130, (n, 4), generator=GEN))
            inputs = {"in": input_beats(p, x)}
            if ws:
                inputs["w"] = weight_stream_beats(p, (wc, wsc), n)
            return inputs, n * 64 // 8
        ideal = (128 // 8) * (64 // 8)
        name = "mx_linear 128x64 mxint4 IN_PAR=8 OUT_PAR=8" + (" (streamed weights)" if ws else "")
        out[name] = _ratio(sim, mk, 4, 24, ideal)
    # mx_matmul: MAC beats per row of A (the next B loads while the current one is used)
    rows, n, d = 16, 16, 64
    sim = build_sim("mase:mx:mx_matmul", {"ROWS": rows, "N": n, "D": d, "K": 32, "K_OUT": 16, "PAR_D": 8, "PAR_N": 4,
                                          "A_WIDTH": 8, "A_EBITS": 0, "B_WIDTH": 8, "B_EBITS": 0, "O_WIDTH": 8,
                                          "O_EBITS": 0, "ACC_LSB": -20, "ACC_W": 32})

    def mk_mm(batches):
        beat = lambda: torch.randint(0, 1 << 62, (1,), generator=GEN).item()
        return ({"a": [beat() for _ in range(batches * rows * d // 8)],
                 "b": [beat() for _ in range(batches * n * d // 8)]}, batches * rows * n // 4)
    ideal = rows * (n // 4) * (d // 8)
    out["mx_matmul 16x16x64 mxint8 (B double-buffered)"] = _ratio(sim, mk_mm, 1, 4, ideal, first="a_first")
    return out


SYNTH_FORMATS = ("mxint4", "mxint6", "mxint8", "mxfp4", "mxfp6", "mxfp8", "fixed8")  # mxfp6 = E2M3, mxfp8 = E4M3


def _synth_one(fmt, arch, size):
    fin, fout, k, ip, op = size
    fixed = 125 if fmt == "fixed8" else None
    p = linear_params(fin, fout, x_format=fmt, w_format=fmt, o_format=fmt, k=k, in_par=ip, out_par=op,
                      acc=AccSpec(-20, 32), x_scale=fixed, w_scale=fixed, o_scale=fixed,
                      files_dir=cache_dir() / "images" / f"bench-synth-{fmt}-{fin}x{fout}")
    g = torch.Generator().manual_seed(1)
    write_linear_images(p, (torch.randint(0, 1 << p["W_WIDTH"], (fout, fin // k, k), generator=g),
                            torch.randint(100, 140, (fout, fin // k), generator=g)),
                        torch.randint(-1000, 1000, (fout,), generator=g))
    t = time.time()
    r = synth("mase:mx:mx_linear", p, arch=arch)
    r = {key: v for key, v in r.items() if key in ("LUT", "FF", "DSP", "BRAM", "LUTRAM", "CARRY")}
    r["seconds"] = round(time.time() - t, 1)
    return fmt, arch, r


def resources(size, jobs=2) -> dict:
    out: dict = {}
    with ThreadPoolExecutor(jobs) as ex:
        for fmt, arch, r in ex.map(lambda a: _synth_one(*a, size), [(f, a) for a in ("ice40", "xcup") for f in SYNTH_FORMATS]):
            out.setdefault(arch, {})[fmt] = r
    return out


def sim_speed(size) -> dict:
    fin, fout, k, ip, op = size
    p = linear_params(fin, fout, x_format="mxint4", w_format="mxint4", o_format="mxint4", k=k, in_par=ip,
                      out_par=op, acc=AccSpec(-20, 32), files_dir=cache_dir() / "images" / f"bench-speed-{fin}x{fout}")
    write_linear_images(p, (torch.randint(0, 16, (fout, fin // k, k), generator=GEN),
                            torch.randint(120, 130, (fout, fin // k), generator=GEN)),
                        torch.zeros(fout, dtype=torch.int64))
    t = time.time()
    sim = build_sim("mase:mx:mx_linear", p, target="sim_opt")
    build_s = time.time() - t
    res = {}
    for nvec in (2, 42):
        x = (torch.randint(0, 16, (nvec, fin // k, k), generator=GEN), torch.randint(120, 130, (nvec, fin // k), generator=GEN))
        t = time.time()
        r = sim.run({"in": input_beats(p, x)}, {"out": nvec * fout // op}, via_fusesoc=False)
        res[nvec] = (r.cycles, time.time() - t)
    cyc = res[42][0] - res[2][0]
    sec = res[42][1] - res[2][1]
    return {"layer": f"{fin}x{fout} mxint4 K={k} IN_PAR={ip} OUT_PAR={op}", "cycles": cyc,
            "seconds": round(sec, 3), "cycles_per_second": round(cyc / sec), "build_seconds": round(build_s, 1)}


# the linear-algebra cores at generated parameters (tiny-llama mxint4: ECP5 lanes / iCE40 lanes;
# smollm2-135m's mx_linear widths at a size that fits): (name, core, module, params, linear images)
def _lin(fin, fout, ip, op, acc_lsb, tag):
    return linear_params(fin, fout, x_format="mxint4", w_format="mxint4", o_format="mxint8", k=32, in_par=ip,
                         out_par=op, acc=AccSpec(acc_lsb, 32), has_bias=False,
                         files_dir=cache_dir() / "images" / f"bench-fmax-{tag}")


def fmax_units():
    q = lambda in_w, lsb: {"PAR": 1, "K": 32, "IN_W": in_w, "IN_LSB": lsb, "WIDTH": 4, "EBITS": 0, "FIXED_SCALE": -1}
    mm = {"ROWS": 8, "N": 16, "D": 32, "K": 32, "K_OUT": 16, "PAR_D": 1, "PAR_N": 1, "A_WIDTH": 4, "A_EBITS": 0,
          "B_WIDTH": 4, "B_EBITS": 0, "O_WIDTH": 8, "O_EBITS": 0, "ACC_LSB": -20, "ACC_W": 32}
    wu = {"OUT_PAR": 1, "W_WIDTH": 4, "K": 32, "HAS_SCALE": 1}
    return [
        ("mx_dot_product mxint4 K=32 PAR=8", "mase:mx:mx_dot_product", "mx_dot_product",
         {"PAR": 8, "K": 32, "A_WIDTH": 4, "A_EBITS": 0, "B_WIDTH": 4, "B_EBITS": 0}, False),
        ("mx_quantize mxint4 PAR=1 IN_W=24 (tiny-llama gate.x.q)", "mase:mx:mx_quantize", "mx_quantize",
         q(24, -19), False),
        ("mx_quantize mxint4 PAR=1 IN_W=16 (tiny-llama k.mx2.q)", "mase:mx:mx_quantize", "mx_quantize",
         q(16, -14), False),
        ("mx_linear 64x128 IN_PAR=8 OUT_PAR=1 (tiny-llama gate_proj, ECP5)", "mase:mx:mx_linear", "mx_linear",
         _lin(64, 128, 8, 1, -30, "gate8"), True),
        ("mx_linear 64x128 IN_PAR=2 OUT_PAR=1 (tiny-llama gate_proj, iCE40)", "mase:mx:mx_linear", "mx_linear",
         _lin(64, 128, 2, 1, -30, "gate2"), True),
        ("mx_linear 128x64 IN_PAR=32 OUT_PAR=2 (smollm2-135m lanes)", "mase:mx:mx_linear", "mx_linear",
         _lin(128, 64, 32, 2, -24, "sm32"), True),
        ("mx_matmul 8x16x32 PAR_D=1 (one head of tiny-llama's scores x V)", "mase:mx:mx_matmul", "mx_matmul",
         mm, False),
        # the compact weight stream's unpacker at smollm2-135m's streamed linears on the ECP5-85 (hw.fold=1)
        ("mx_wstream_unpack IN_PAR=4 IN_BYTES=3 (smollm2-135m q/k/v/o_proj, ECP5)", "mase:mx:mx_linear",
         "mx_wstream_unpack", {**wu, "IN_PAR": 4, "GROUPS": 10368, "IN_BYTES": 3}, False),
        ("mx_wstream_unpack IN_PAR=8 IN_BYTES=5 (smollm2-135m gate/up/down_proj, ECP5)", "mase:mx:mx_linear",
         "mx_wstream_unpack", {**wu, "IN_PAR": 8, "GROUPS": 27648, "IN_BYTES": 5}, False),
    ]


def _place(core, module, params, target, tag):
    from mase.config import compose
    from mase.eda import nextpnr
    t = compose(["+model=tiny-llama", f"target={target}"]).target
    cap = nextpnr.capacity_of(t)
    d = cache_dir() / "bench-fmax" / target / tag
    clock = 100.0 if t.family == "ecp5" else 40.0
    try:
        r = nextpnr.place_unit(d, tag, core, module, params, t, clock, [], cap)
    except nextpnr.NoFit as exc:
        return {"fmax_mhz": None, "note": str(exc).split(":")[-1].strip()[:80]}
    log = Path(r["logs"]["nextpnr"]).read_text()
    crit = log.split("Critical path report for clock")[-1].split("\n\n")[0]
    cells = [l.split("Source")[-1].strip() for l in crit.splitlines() if " Source " in l]
    util = {k: v["used"] for k, v in r["utilisation"].items()
            if k in ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "DP16KD", "ICESTORM_LC", "ICESTORM_RAM")}
    return {"fmax_mhz": r["fmax_mhz"], "critical_path": f"{cells[0]} -> {cells[-1]}" if cells else "",
            "utilisation": util, "seconds": r["seconds"]["total"]}


def fmax_table() -> dict:
    out = {}
    for i, (name, core, module, params, images) in enumerate(fmax_units()):
        if images:
            g = torch.Generator().manual_seed(2)
            fout, fin = params["OUT_FEATURES"], params["IN_FEATURES"]
            write_linear_images(params, (torch.randint(0, 16, (fout, fin // 32, 32), generator=g),
                                         torch.randint(110, 130, (fout, fin // 32), generator=g)), None)
        out[name] = {t: _place(core, module, params, t, f"u{i}") for t in ("ecp5-85k", "ice40-up5k")}
    return out


def fmax_linear(size) -> dict:
    """ECP5 fmax of the mx_linear rows of the resource table (the iCE40 does not fit them)."""
    out = {}
    fin, fout, k, ip, op = size
    for fmt in SYNTH_FORMATS:
        fixed = 125 if fmt == "fixed8" else None
        p = linear_params(fin, fout, x_format=fmt, w_format=fmt, o_format=fmt, k=k, in_par=ip, out_par=op,
                          acc=AccSpec(-20, 32), x_scale=fixed, w_scale=fixed, o_scale=fixed,
                          files_dir=cache_dir() / "images" / f"bench-synth-{fmt}-{fin}x{fout}")
        out[fmt] = _place("mase:mx:mx_linear", "mx_linear", p, "ecp5-85k", f"lin-{fmt}-{fin}x{fout}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller synthesis size")
    ap.add_argument("--skip-synth", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--fmax", action="store_true", help="nextpnr fmax (ECP5 out of context, iCE40): slow")
    args = ap.parse_args()
    report = {}

    print("== Throughput (no stalls): beats per cycle against the ideal of 1.00")
    report["throughput"] = thr = throughput()
    for name, r in thr.items():
        print(f"  {name:55s} {r:5.2f}")

    print("\n== Verilator speed of mx_linear (sim_opt target, -O2)")
    report["sim_speed"] = sp = sim_speed((576, 576, 32, 16, 16))
    print(f"  {sp['layer']}: {sp['cycles']} cycles in {sp['seconds']} s = {sp['cycles_per_second']:,} cycles/s")

    if not args.skip_synth:
        size = (128, 32, 32, 8, 4) if args.quick else (256, 64, 32, 8, 4)
        print(f"\n== Yosys resources of mx_linear {size[0]}x{size[1]}, K={size[2]}, IN_PAR={size[3]}, "
              f"OUT_PAR={size[4]} ({size[3] * size[4]} multipliers), weights in ROM")
        report["resources"] = res = resources(size)
        report["resources_size"] = size
        fm = report["fmax_linear"] = fmax_linear(size) if args.fmax else {}
        for arch in ("ice40", "xcup"):
            print(f"  {arch:6s} {'format':8s} {'LUT':>7s} {'FF':>7s} {'DSP':>5s} {'BRAM':>6s}  (carry, lutram)"
                  + ("  fmax ECP5-85 (OOC)" if fm else ""))
            base = res[arch]["fixed8"]
            for fmt in SYNTH_FORMATS:
                r = res[arch][fmt]
                f = fm.get(fmt, {}).get("fmax_mhz")
                print(f"  {'':6s} {fmt:8s} {r['LUT']:7d} {r['FF']:7d} {r['DSP']:5d} {r['BRAM']:6g}"
                      f"  ({r.get('CARRY', 0)}, {r.get('LUTRAM', 0)})  LUT x{r['LUT'] / max(base['LUT'], 1):.2f} of fixed8"
                      + (f"  {f:6.1f} MHz" if f else ("  -" if fm else "")))
        macs = size[3] * size[4]
        print(f"\n  per MAC ({macs} multipliers): LUT / FF / DSP / BRAM (iCE40 EBR 4 kbit, UltraScale+ RAMB36)")
        print(f"  {'format':8s} {'iCE40':>28s} {'UltraScale+':>30s}")
        for fmt in SYNTH_FORMATS:
            cells = [" / ".join(f"{res[arch][fmt][k] / macs:.{1 if k in ('LUT', 'FF') else 2}f}"
                                for k in ("LUT", "FF", "DSP", "BRAM")) for arch in ("ice40", "xcup")]
            print(f"  {fmt:8s} {cells[0]:>28s} {cells[1]:>30s}")
    if args.fmax:
        print("\n== nextpnr fmax (ECP5-85 speed 6 out of context; iCE40UP5K in the shift-register harness)")
        report["fmax"] = fx = fmax_table()
        for name, per in fx.items():
            cells = []
            for t in ("ecp5-85k", "ice40-up5k"):
                f = per[t]["fmax_mhz"]
                cells.append(f"{t} {f:6.1f} MHz" if f else f"{t} {'does not fit':>10s}")
            print(f"  {name:66s} {'   '.join(cells)}")
            print(f"  {'':66s} ECP5 critical path {per['ecp5-85k'].get('critical_path', '')}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
