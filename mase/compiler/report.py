"""The hardware report: per node and total resources (absolute and % of the part), clock, cycles per
token (prefill and decode), tokens per second, on/off-chip memory, off-chip bandwidth, energy.

Where each figure comes from is recorded next to it: resources from Yosys when the synth stage ran
(`yosys`), else the analytical model (`analytical`, mase.compiler.params); prefill cycles from
simulation when the whole model was simulated, else the analytical model; clock from nextpnr when it
ran, else the target's.

Decode is `analytical` (mase.compiler.params.decode_model) unless the generate stage ran: then the
batch-1 decode cycles per token are those simulated on the KV-cache decode design (hw_decode/,
mase.compiler.generate), labelled `simulation` in `cycles.decode_source`, and `generate` holds the
tokens, the text and the model's error. The model gives one sequence's token latency through every layer (batch 1:
token t+1 needs token t), the interval with the pipeline full of independent sequences (batched) and
the KV-cache size at `hw.decode_context` tokens (default: the prompt), plus 256 and 2048 tokens in
`decode.by_context`. Its latency term is checked against a one-token-prompt simulation (a decode
step with an empty cache): `model_vs_sim.decode` when hw.prompt_tokens=1.

Energy per token (a documented first-order model, `ENERGY_MODEL`): arithmetic and memory-access
energies from Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm: 8-bit multiply 0.2 pJ,
8-bit add 0.03 pJ, 32-bit add 0.1 pJ, 64-bit read from an 8 KB SRAM 10 pJ, i.e. ~0.16 pJ/bit, DRAM
~20 pJ/bit from 1.3-2.6 nJ per 64-bit access), multiply energy scaled with the product of the operand
widths, times the FPGA/ASIC dynamic-power gap of Kuon & Rose, "Measuring the gap between FPGAs
and ASICs", IEEE TCAD 2007 (7-14x; 10x used), plus the MX scale datapath per block (one 8-bit
exponent add and one 32-bit alignment/accumulate per block product) and static power times the
time per token (static watts of the part: an assumption per target, listed in the output) at the
batched decode rate (`batch1_energy_per_token_uj`: at one sequence's rate).
"""

from __future__ import annotations

import json
import math
from typing import Any

from rich.markup import escape
from rich.table import Table

from .graph import DataflowGraph
from .params import HwPlan, built, decode_model

ENERGY_MODEL = {
    "mult8_pj": 0.2, "add8_pj": 0.03, "add32_pj": 0.1, "sram_pj_per_bit": 10.0 / 64, "dram_pj_per_bit": 20.0,
    "fpga_factor": 10.0, "static_w": {"u250": 20.0, "ecp5-85k": 0.1, "ice40-up5k": 0.0001, "sim": 0.0},
    "sources": ["M. Horowitz, Computing's energy problem (and what we can do about it), ISSCC 2014",
                "I. Kuon, J. Rose, Measuring the gap between FPGAs and ASICs, IEEE TCAD 26(2), 2007"],
}


def _bits(fmt: str) -> int:
    from .params import _elem_bits

    return _elem_bits(fmt)


def energy_per_token(g: DataflowGraph, plan: HwPlan, tok_s: float) -> dict[str, Any]:
    m = ENERGY_MODEL
    mac_pj = scale_pj = sram_bits = 0.0
    for n in g.nodes:
        a = n.attrs
        if n.op in ("linear", "matmul_qk", "matmul_sv"):
            work = n.work(g.edges, g.seq_len)
            if n.op == "linear":
                wa, wb, fmt = _bits(a["act_fmt"]), _bits(a["weight_fmt"]), a["weight_fmt"]
            else:
                wa, wb = (_bits(g.edges[i].fmt) for i in n.inputs)
                fmt = g.edges[n.inputs[0]].fmt
            mult = m["mult8_pj"] * (wa * wb) / 64
            add = m["add8_pj"] * (wa + wb) / 16
            mac_pj += work * (mult + add)
            if fmt != "fixed8":  # MX: per block product, exponent add + alignment into the accumulator
                scale_pj += work / a["block"] * (m["add8_pj"] + m["add32_pj"])
            if n.op == "linear":
                sram_bits += plan.nodes[n.name].weight_bits if plan.nodes[n.name].weights != "axi" else 0
        else:
            e = g.edges[n.inputs[0]]
            mac_pj += n.work(g.edges, g.seq_len) * m["add32_pj"] * 2  # element-wise ops ~ two 32-bit adds
    dram_bits = plan.offchip_weight_bits
    dyn = (mac_pj + scale_pj + sram_bits * m["sram_pj_per_bit"]) * m["fpga_factor"] + dram_bits * m["dram_pj_per_bit"]
    static_w = m["static_w"].get(plan.target, 1.0)
    static_pj = static_w / tok_s * 1e12 if tok_s else 0.0
    return {"energy_per_token_uj": (dyn + static_pj) / 1e6, "dynamic_uj": dyn / 1e6, "static_uj": static_pj / 1e6,
            "arith_uj": (mac_pj + scale_pj) * m["fpga_factor"] / 1e6, "mx_scale_uj": scale_pj * m["fpga_factor"] / 1e6,
            "onchip_mem_uj": sram_bits * m["sram_pj_per_bit"] * m["fpga_factor"] / 1e6,
            "offchip_mem_uj": dram_bits * m["dram_pj_per_bit"] / 1e6, "static_w_assumed": static_w,
            "model": "mase.compiler.report.ENERGY_MODEL", "sources": m["sources"]}


def params_table(g: DataflowGraph, plan: HwPlan, title: str) -> Table:
    """Chosen parameters, condensed: one row per (op, parameters) across layers."""
    t = Table(title=title)
    for c in ("nodes", "op", "lanes (in x out)", "cycles/token", "weights", "FIFO depths", "LUT", "DSP", "BRAM", "URAM"):
        t.add_column(c, justify="right" if c in ("cycles/token", "LUT", "DSP", "BRAM", "URAM") else "left")
    rows: dict[tuple, list] = {}
    import re

    for n in g.nodes:
        p = plan.nodes[n.name]
        key_name = re.sub(r"\.\d+\.", ".*.", n.name)
        key = (key_name, n.op, p.in_par, p.out_par, p.cycles_per_token, p.weights, tuple(sorted(p.fifo_depth.values())))
        rows.setdefault(key, []).append(p)
    for (name, op, ip, op_, cyc, wts, depths), ps in rows.items():
        t.add_row(f"{name} (x{len(ps)})" if len(ps) > 1 else name, op, f"{ip} x {op_}", str(cyc), wts,
                  ",".join(map(str, depths)), str(ps[0].lut), str(ps[0].dsp), f"{ps[0].bram:g}", str(ps[0].uram))
    t.caption = weights_line(plan.to_dict())
    return t


def weights_line(plan: dict[str, Any]) -> str:
    """The architecture's weight memory in one line (hw.weights and where the linear layers went)."""
    lin = [p for p in plan["nodes"].values() if p["op"] == "linear"]
    axi = sum(p["weights"] == "axi" for p in lin)
    return (f"weights: hw.weights={plan.get('weights_mode', 'auto')}: {len(lin) - axi} of {len(lin)} linear layers on "
            f"chip ({plan['onchip_weight_bits'] / 8e3:,.1f} kB), {axi} streamed from off-chip memory "
            f"({plan['offchip_weight_bits'] / 8e3:,.1f} kB a token)")


def architecture_line(plan: dict[str, Any], layers: int | None = None) -> str:
    """The architecture in one line: spatial (a hardware decoder layer per layer) or folded (hw.fold)."""
    lin = [p for p in plan["nodes"].values() if p["op"] == "linear"]
    axi = sum(p["weights"] == "axi" for p in lin)
    where = "weights off chip" if lin and axi == len(lin) else "weights on chip" if not axi else "weights partly off chip"
    if plan.get("fold"):
        lp = plan.get("loop") or {}
        return (f"folded: {plan['fold']} decoder layer{'s' if plan['fold'] > 1 else ''} x {plan['passes']} passes, {where}; activation buffer "
                f"{lp.get('depth')} x {lp.get('width')} bits ({lp.get('bits', 0) / 8e3:.1f} kB)")
    return f"spatial: a hardware decoder layer per layer{f' ({layers})' if layers else ''}, {where}"


def _plan_from_files(ctx) -> tuple[DataflowGraph | None, dict]:
    hw = ctx.out_dir / "hw"
    return None, json.loads((hw / "params.json").read_text())["plan"]


def build_hw_report(ctx) -> dict[str, Any]:
    """The `hardware` section of report.json from the hw stage results in the run folder."""
    import mase
    from mase.provenance import quant_label

    emit = ctx.result("emit")
    if emit is None:
        from mase.errors import MaseError

        raise MaseError("no hardware results in this run folder: run the emit stage first")
    plan = json.loads((ctx.out_dir / "hw" / "params.json").read_text())["plan"]
    sim, synth, pnr, lint = (ctx.result(k) for k in ("sim", "synth", "pnr", "lint"))
    sim_skipped = sim.get("skipped") if sim else None
    sim = None if sim_skipped else sim
    t = ctx.cfg.target
    cap = {k: v for k, v in plan["capacity"].items() if v}
    res_src = "analytical"
    totals = {k.upper(): v for k, v in plan["totals"].items()}
    per_node = {n: {"op": p["op"], "lanes": p["lanes"], "in_par": p["in_par"], "out_par": p["out_par"],
                    "cycles_per_token": p["cycles_per_token"], "weights": p["weights"],
                    "LUT": p["lut"], "FF": p["ff"], "DSP": p["dsp"], "BRAM": p["bram"], "URAM": p["uram"],
                    "source": "analytical"} for n, p in plan["nodes"].items()
                if built(n, plan.get("fold", 0))}  # folded: the nodes that are built
    if synth and not synth.get("skipped"):
        res_src = f"yosys ({synth['scope']}, {synth['arch']})"
        if synth["scope"] == "nodes":
            for n, r in synth["per_node"].items():
                per_node[n].update({k: r[k] for k in ("LUT", "FF", "DSP", "BRAM", "URAM")}, source="yosys")
            totals = {k: sum(v[k] for v in per_node.values()) for k in ("LUT", "FF", "DSP", "BRAM", "URAM")}
        else:
            totals = dict(synth["resources"])
    pct = {k: 100.0 * totals.get(k, 0) / cap[k.lower()] for k in totals if cap.get(k.lower())}
    clock = plan["clock_mhz"]
    clock_src = "target"
    if pnr and pnr.get("fmax_mhz"):
        clock, clock_src = min(clock, pnr["fmax_mhz"]), f"nextpnr fmax ({pnr.get('label', 'whole design')})"
    cyc = dict(emit["cycles"])
    T = emit["seq_len"]
    perf_sim = sim.get("performance") if sim else None
    g, hp = _graph_plan_from_files(ctx)
    context = int(_hw_get(ctx, "decode_context", 0)) or T
    dec = decode_model(g, hp, context)
    if plan.get("fold"):  # a token passes the hardware layers `passes` times: the batched interval grows
        dec["ii_cycles"] *= plan["passes"]
        dec["tokens_per_s_batched"] = plan["clock_mhz"] * 1e6 / dec["ii_cycles"]
    dec["by_context"] = {str(c): {k: d[k] for k in ("latency_cycles", "ii_cycles", "tokens_per_s_batch1",
                                                     "tokens_per_s_batched", "kv_cache_mb")}
                         for c in sorted({context, 256, 2048}) for d in [decode_model(g, hp, c)]}
    cycles = {"prefill_cycles_per_token": cyc["prefill_cycles_per_token"], "prefill_source": "analytical",
              "decode_cycles_per_token": dec["latency_cycles"], "decode_batched_cycles_per_token": dec["ii_cycles"],
              "decode_context": context, "decode_source": "analytical",
              "source": "analytical"}
    model_check = None
    if perf_sim:
        if sim["scope"] == "whole model" and T > 1:  # a complete simulation replaces the analytical prefill cycles
            cycles["prefill_cycles_per_token"] = perf_sim["cycles_total"] / T
            cycles["prefill_source"] = cycles["source"] = "simulation"
        steady = perf_sim["cycles_per_token_steady"] if T > 1 else None  # one token: no interval to measure
        model_check = {"scope": sim["scope"], "ii_model": perf_sim["ii_ideal"], "cycles_per_token_sim_steady": steady,
                       "ii_error_pct": 100.0 * (perf_sim["ii_ideal"] - steady) / steady if steady else None,
                       "efficiency_steady": perf_sim["efficiency_steady"] if T > 1 else None,
                       "efficiency_total": perf_sim["efficiency_total"]}
        if sim["scope"] == "whole model" and T > 1:
            model_check["prefill_cycles_model"] = cyc["prefill_cycles"]
            model_check["prefill_cycles_sim"] = perf_sim["cycles_total"]
            model_check["prefill_error_pct"] = 100.0 * (cyc["prefill_cycles"] - perf_sim["cycles_total"]) / perf_sim["cycles_total"]
        if T == 1:  # a one-token prompt is a decode step with an empty cache: check the latency term
            model_check["decode"] = decode_vs_sim(ctx, g, hp, sim)
    tok_s_pre = clock * 1e6 / cycles["prefill_cycles_per_token"]
    # at the achieved clock (nextpnr fmax may be below the target's)
    tok_s_dec, tok_s_bat = clock * 1e6 / dec["latency_cycles"], clock * 1e6 / max(1, dec["ii_cycles"])
    gen = ctx.result("generate") if (ctx.out_dir / "hw" / "generate.json").is_file() else None
    generated = None
    if gen and gen.get("cycles_per_token"):  # the decode design ran in Verilator: its figures replace the model's
        cycles["decode_cycles_per_token"] = gen["cycles_per_token"]
        cycles["decode_context"] = gen["context"]
        cycles["decode_source"] = (f"simulation (generate stage: the KV-cache decode design hw_decode/, "
                                   f"{gen['context']} tokens of context, one token at a time)")
        tok_s_dec = clock * 1e6 / gen["cycles_per_token"]
        generated = {k: gen.get(k) for k in ("match", "text", "tokens_hw", "context", "cycles_per_token",
                                              "analytical_cycles_per_token", "analytical_error", "bit_exact")}
    roofline = offchip_roofline(plan, clock, gen if generated else None, tok_s_dec)
    if dec["tokens_per_s_offchip_cap"]:  # weights streamed from off-chip memory: bandwidth-bound
        tok_s_dec, tok_s_bat = min(tok_s_dec, dec["tokens_per_s_offchip_cap"]), min(tok_s_bat, dec["tokens_per_s_offchip_cap"])
    need, avail = plan["offchip_gbps_needed"] * (clock / plan["clock_mhz"]), plan["offchip_gbps_available"]
    energy = energy_per_token(g, hp, tok_s_bat)
    energy["batch1_energy_per_token_uj"] = energy_per_token(g, hp, tok_s_dec)["energy_per_token_uj"]
    energy["throughput"] = "batched decode (pipeline full); batch1_energy_per_token_uj at one sequence"
    rep = {
        "label": f"{ctx.cfg.model.name}/{quant_label(ctx.cfg.quant)}",  # the formats built, not only the preset
        "mase_version": mase.__version__, "config_hash": emit["config_hash"], "target": t.name,
        "part": t.get("part"), "core": emit["core"], "graph": emit["graph"],
        "mapped_nodes": f"{emit['nodes_mapped']}/{emit['nodes']}", "missing_cores": emit["missing_by_core"],
        "resources": totals, "resources_pct": pct, "resources_source": res_src, "capacity": cap,
        "clock_mhz": clock, "clock_source": clock_src,
        "cycles": cycles, "analytical_cycles": {k: v for k, v in cyc.items() if k != "decode"}, "decode": dec,
        "model_vs_sim": model_check,
        "tokens_per_s": {"decode": tok_s_dec, "decode_batched": tok_s_bat, "prefill": tok_s_pre},
        "architecture": architecture_line(plan, g.layers), "fold": plan.get("fold", 0), "passes": plan.get("passes", 1),
        "memory": {"weights": plan.get("weights_mode", "auto"), "weights_line": weights_line(plan),
                   "onchip_weight_mb": plan["onchip_weight_bits"] / 8e6, "offchip_weight_mb": plan["offchip_weight_bits"] / 8e6,
                   "kv_cache_mb": dec["kv_cache_mb"], "kv_cache_context": context,
                   # where the generate stage's decode design kept its KV caches (hw.kv_cache) and their bus traffic
                   "kv_cache_decode": (gen or {}).get("kv_cache")},
        "offchip_bandwidth_gbps": {"needed": need, "available": avail},
        "offchip_roofline": roofline,
        "rtl": ("prefill datapath (hw/, the prompt streamed token by token) and the KV-cache decode design (hw_decode/, "
                "generate stage): decode figures simulated" if generated else
                "prefill datapath (the prompt streamed token by token); decode figures analytical (add the generate "
                "stage to simulate the KV-cache decode design)"),
        "generate": generated,
        "energy": energy, "lint": (lint or {}).get("scope") and f"clean ({lint['scope']})",
        "sim": sim and {"bit_exact": sim["bit_exact"], "scope": sim["scope"], "nodes": sim.get("nodes", ""),
                        "cycles": [r["cycles"] for r in sim["runs"]]},
        "sim_skipped": sim_skipped,
        "pnr": pnr and (pnr.get("skipped") or pnr.get("summary")), "prompt_tokens": T, "notes": emit.get("notes", []),
        "per_node": per_node,
        # values clipped on the fixed-point streams between the cores (golden model, simulated prompt)
        "saturations": emit.get("saturations"),
    }
    return rep


def offchip_roofline(plan: dict[str, Any], clock: float, gen: dict | None, tok_s_model: float) -> dict[str, Any] | None:
    """Batch-1 decode against the off-chip roofline (weight bytes per token / bandwidth) when weights are
    streamed: the bandwidth of the memory model (mase.compiler.params.memory_model) at `clock`; the
    achieved tokens/s simulated (the generate stage: the median of the generated tokens' cycles, the
    steady state, since the DMA channels read ahead across tokens) where it ran, else the decode model's."""
    mem = plan.get("memory")
    if not plan.get("offchip_weight_bits") or not mem:
        return None
    wbytes = plan["offchip_weight_bits"] / 8
    bw = min(mem["target_gbps"], mem["bus_bits"] / 8 * clock / 1000)
    roof = bw * 1e9 / wbytes
    each = (gen or {}).get("cycles_per_token_each") or []
    if each:
        import statistics

        steady = statistics.median(each)
        tok, src = clock * 1e6 / steady, (f"simulation (generate stage, memory model: median of {len(each)} generated "
                                          f"tokens' cycles, {steady:.0f})")
    else:
        tok, src = tok_s_model, "analytical (decode model: token latency, at least the streams' bus time)"
    return {"weight_bytes_per_token": wbytes, "bandwidth_gbps": bw, "bus_bits": mem["bus_bits"],
            "tokens_per_s_roofline": roof, "tokens_per_s_decode": tok, "source": src, "fraction": tok / roof}


def roofline_line(r: dict[str, Any]) -> str:
    """One line: the roofline next to the achieved decode tokens/s."""
    x = r.get("offchip_roofline")
    if not x:
        return ""
    return (f"{r.get('label', '')}: off-chip roofline {_rate(x['tokens_per_s_roofline'])} tok/s ({x['weight_bytes_per_token'] / 1e3:,.1f} "
            f"kB of weights a token at {x['bandwidth_gbps']:g} GB/s); decode b=1 {_rate(x['tokens_per_s_decode'])} tok/s = "
            f"{100 * x['fraction']:.1f}% of it, {x['source'].split(' (')[0]}")


def _hw_get(ctx, key: str, default: Any) -> Any:
    hw = ctx.cfg.get("hw", None) if hasattr(ctx.cfg, "get") else None
    v = hw.get(key, None) if hw is not None else None
    return default if v is None else v


def _graph_plan_from_files(ctx, folder: str = "hw") -> tuple[DataflowGraph, HwPlan]:
    """The dataflow graph and the plan from graph.json + params.json (no model needed)."""
    from .graph import Edge, Node
    from .params import NodeParams

    hw = ctx.out_dir / folder
    plan = json.loads((hw / "params.json").read_text())["plan"]
    gd = json.loads((hw / "graph.json").read_text())
    g = DataflowGraph(gd["model"], gd["family"], gd["seq_len"], gd["hidden"], gd["layers"], quant=gd["quant"],
                      decode=gd.get("decode", False))
    g.edges = {k: Edge(**v) for k, v in gd["edges"].items()}
    g.nodes = [Node(n["name"], n["op"], n["layer"], n["module"], n["inputs"], n["outputs"], n["attrs"]) for n in gd["nodes"]]
    g.inputs, g.outputs = list(gd.get("inputs", [])), list(gd.get("outputs", []))
    nodes = {k: NodeParams(**{f: v[f] for f in NodeParams.__dataclass_fields__ if f in v}) for k, v in plan["nodes"].items()}
    hp = HwPlan(plan["target"], plan["clock_mhz"], plan["seq_len"], plan["ii"], nodes, plan["totals"], plan["capacity"],
                plan["offchip_gbps_needed"], plan["offchip_gbps_available"], plan["onchip_weight_bits"],
                plan["offchip_weight_bits"], weights_mode=plan.get("weights_mode", "auto"),
                memory=plan.get("memory"))
    return g, hp


def decode_vs_sim(ctx, g: DataflowGraph, hp: HwPlan, sim: dict) -> dict[str, Any]:
    """The decode latency model on the simulated region of a one-token prompt (a decode step with an
    empty cache) against the simulation: first input beat to last output beat, no stalls."""
    folder = ctx.out_dir / sim.get("library", "hw")
    man = json.loads((folder / "manifest.json").read_text())
    mapped = json.loads((folder / "params.json").read_text())["nodes"]
    region = {"nodes": list(mapped), "inputs": man["inputs"], "outputs": man["outputs"]}
    model = decode_model(g, hp, 1, region)["latency_cycles"]
    simc = sim["performance"]["cycles_total"]
    return {"scope": sim["scope"], "latency_model": model, "latency_sim": simc,
            "error_pct": 100.0 * (model - simc) / simc if simc else None}


def _rate(v: Any) -> str:
    """Tokens/s: whole numbers from 100 up, else three significant digits (3.1, not 3, on the ECP5)."""
    return _f(v, ",.0f" if not isinstance(v, (int, float)) or v >= 100 else ".3g")


def _f(v: Any, fmt: str = ",.0f") -> str:
    if v is None:
        return "-"
    try:
        return format(v, fmt)
    except (TypeError, ValueError):
        return str(v)


def hw_table(reports: list[dict[str, Any]], title: str = "hardware") -> Table:
    """One row per run (compare fixed8 and MX configs side by side)."""
    t = Table(title=title)
    cols = ("config", "target", "mapped", "LUT", "FF", "DSP", "BRAM", "URAM", "MHz", "prefill cyc/tok",
            "decode cyc/tok", "tok/s b=1", "tok/s batched", "on-chip MB", "KV MB", "uJ/token", "clipped", "sim")
    for c in cols:
        t.add_column(c, justify="left" if c in ("config", "target", "sim", "mapped") else "right", no_wrap=c == "config")
    for r in reports:
        res, pct = r["resources"], r["resources_pct"]

        def cell(k):
            return f"{_f(res.get(k))}" + (f" ({pct[k]:.1f}%)" if k in pct else "")

        sim, cyc = r.get("sim"), r["cycles"]
        pre_star = "*" if cyc.get("prefill_source", cyc.get("source")) == "analytical" else ""
        dec_star = "*" if cyc.get("decode_source") == "analytical" else ""
        t.add_row(escape(str(r.get("label", r["config_hash"]))), r["target"], r["mapped_nodes"], cell("LUT"), cell("FF"),
                  cell("DSP"), cell("BRAM"), cell("URAM"), _f(r["clock_mhz"], ".0f"),
                  _f(cyc["prefill_cycles_per_token"]) + pre_star, _f(cyc["decode_cycles_per_token"]) + dec_star,
                  _rate(r["tokens_per_s"]["decode"]) + dec_star, _rate(r["tokens_per_s"].get("decode_batched")) + "*",
                  _f(r["memory"]["onchip_weight_mb"], ".2f"), _f(r["memory"].get("kv_cache_mb"), ".3f"),
                  _f(r["energy"]["energy_per_token_uj"], ".2f"), _f((r.get("saturations") or {}).get("total")),
                  (("bit-exact" if sim["bit_exact"] else "MISMATCH") + f" {sim['nodes']}") if sim else "-")
    scopes = sorted({r["sim"]["scope"] for r in reports if r.get("sim")})
    ctxs = sorted({r["cycles"].get("decode_context") for r in reports if r["cycles"].get("decode_context")})
    t.caption = ("* analytical model. Decode (KV cache, context " + "/".join(map(str, ctxs)) + " tokens): b=1 is one "
                 "sequence (token latency through every layer; simulated on the decode design where the generate stage "
                 "ran), batched keeps the pipeline full. uJ/token at the batched rate. Resources: "
                 + "; ".join(sorted({r["resources_source"] for r in reports}))
                 + ("; simulated: " + "; ".join(scopes) if scopes else "")
                 + "".join(f". {r['label']}: {r['architecture']}" for r in reports if r.get("architecture"))
                 + "".join(f". {r['label']}: {r['memory']['weights_line']}" for r in reports
                           if r.get("memory", {}).get("weights_line"))
                 + "".join(f". {roofline_line(r)}" for r in reports if r.get("offchip_roofline")))
    return t
