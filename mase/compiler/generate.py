"""Greedy text generation on the KV-cache decode design (issue 12 §1): the accelerator generates text.

The decode design is the generated dataflow accelerator with a KV cache: it takes one token at a
time, and each layer keeps the keys (`mase_attn_matmul` CHUNK 1: row t against keys 0..t, replayed
from its buffer) and the values (`mase_transpose_pad` STEP 1: after each token, V^T of the tokens so
far) of every earlier token, up to its context. The host does what it does in a deployed system: the
token (+ position) embedding in, `lm_head` and argmax on the final norm's output.

Numerics: the golden model's causal mode (`run_graph(causal=True)`, mase/golden/CONTRACT.md "Decode"):
row t is computed as if the later tokens did not exist, so one run over a sequence equals decoding it
token by token, and the generated tokens do not depend on how far the generation goes.

Verification: the golden greedy tokens first; then one Verilator run of the prompt followed by those
tokens (all but the last), gated by `mx_tb_gate`: the prompt streams in, every generated token waits
for the previous token's output, as a host computing it would (zero host cycles), which measures the
cycles per generated token. The hardware's token at each step is the argmax of its own output row.
Because each row only sees earlier tokens, this run equals step-by-step generation as long as the
hardware's tokens match; a mismatch is reported (`match` false, `first_mismatch`).

    >>> res = generate(model, tokenizer, quant_cfg, target, hw, out_dir, prompt_ids, 16)
    >>> res["tokens_hw"] == res["tokens_golden"], res["text"], res["cycles_per_token"]
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from mase.errors import MaseError

from .golden import host_embeddings, output_float, run_graph
from .graph import DataflowGraph, capture

log = logging.getLogger("mase")
HOST_SIDE = "token embedding, lm_head and argmax on the host (testbench stimulus and outputs); every decoder layer in Verilator"


def design_context(model: torch.nn.Module, quant_cfg: Any, tokens: int) -> int:
    """The KV-cache context of a decode design for `tokens` tokens: rounded up to whole blocks of the
    quant block size (capped at the model's context), so that each score row is blocked by the quant
    block (mase.compiler.graph.out_block picks a smaller block for a row of another length): the decode
    numerics then do not depend on the design's context or the generation's length."""
    from mase.config import load_group

    q = load_group("quant", quant_cfg) if isinstance(quant_cfg, str) else quant_cfg
    k = int(q.block_size)
    limit = getattr(model.config, "max_position_embeddings", None) or 1 << 30
    whole = -(-tokens // k) * k
    return whole if whole <= limit else tokens


def decode_graph(model: torch.nn.Module, quant_cfg: Any, context: int, hw: Any = None,
                 model_name: str | None = None) -> DataflowGraph:
    """The graph of the decode design holding `context` tokens of KV cache."""
    g = capture(model, quant_cfg, seq_len=context, hw=hw, model_name=model_name)
    g.decode = True
    return g


def _logits(model: torch.nn.Module, final: torch.Tensor) -> torch.Tensor:
    from mase.evaluate.hardware import lm_logits

    return lm_logits(model, final)


@torch.no_grad()
def greedy_golden(model: torch.nn.Module, g: DataflowGraph, prompt: list[int], n: int,
                  keep_all: bool = False) -> tuple[list[int], dict]:
    """`n` greedy tokens with the decode design's numerics, and the golden values of the last run
    (prompt + the first n - 1 tokens: the testbench's stimulus and expected outputs; every edge's
    with `keep_all`, else the graph's inputs and outputs)."""
    seq, out, vals = list(prompt), [], {}
    keep = set(g.inputs) | set(g.outputs)
    for i in range(n):
        last = i == n - 1
        vals = run_graph(g, host_embeddings(model, torch.tensor(seq)), keep=None if keep_all and last else keep,
                         causal=True)
        out.append(int(_logits(model, output_float(g, vals)[-1:]).argmax(-1)))
        if i < n - 1:
            seq.append(out[-1])
    return out, vals


@torch.no_grad()
def greedy_prefill(model: torch.nn.Module, quant_cfg: Any, hw: Any, prompt: list[int], n: int,
                   model_name: str | None = None) -> list[int]:
    """`n` greedy tokens of the software model with the prefill design's numerics (no KV cache: the
    whole sequence again for every token, V and score blocks spanning it, as `hardware_perplexity`)."""
    seq, out, wq = list(prompt), [], {}
    for _ in range(n):
        g = capture(model, quant_cfg, seq_len=len(seq), hw=hw, model_name=model_name)
        g.__dict__["_wq"] = wq
        vals = run_graph(g, host_embeddings(model, torch.tensor(seq)), keep=set(g.outputs))
        out.append(int(_logits(model, output_float(g, vals)[-1:]).argmax(-1)))
        seq.append(out[-1])
    return out


@torch.no_grad()
def greedy_float(model: torch.nn.Module, prompt: list[int], n: int) -> list[int]:
    """`n` greedy tokens of the PyTorch model in memory (float, or fake-quantized by the quantize stage)."""
    seq, out = list(prompt), []
    for _ in range(n):
        logits = model(torch.tensor([seq])).logits[0, -1]
        out.append(int(logits.argmax()))
        seq.append(out[-1])
    return out


def read_fixed_rows(path: Path, width: int, lanes: int, features: int) -> torch.Tensor:
    """A fixed-point output stream written by the testbench (hex beats, lane 0 in the low bits) as
    int64 rows (tokens, features)."""
    from mase.eda.runner import read_hex, unpack_fields

    vals = [v for word in read_hex(path) for v in unpack_fields(word, width, lanes, signed=True)]
    return torch.tensor(vals, dtype=torch.int64).reshape(-1, features)


def model_after_layers(g: DataflowGraph, plan: Any, context: int) -> tuple[int, int]:
    """The decode model's token latency and its part after the last decoder layer (the final norm
    and the output port), which a layer-by-layer simulation does not cover."""
    from .params import decode_model

    whole = decode_model(g, plan, context)
    return whole["latency_cycles"], whole["latency_cycles"] - whole["layer_end_cycles"][str(g.layers - 1)]


def layer_view(g: DataflowGraph, layer: int, vals: dict | None = None) -> tuple[DataflowGraph, dict | None]:
    """Decoder layer `layer` dressed as layer 0: layer 0's node and edge names (so the generated RTL is
    layer 0's and its compiled Verilator model is reused, mase.eda.verilator's gen-sim cache) with
    `layer`'s weights, gains and stream formats; `vals` (the golden values) mapped onto those names."""
    n0 = [n for n in g.nodes if n.layer == 0]
    nl = [n for n in g.nodes if n.layer == layer]
    if [n.op for n in n0] != [n.op for n in nl]:
        raise MaseError(f"decoder layer {layer} is not built like layer 0, so layer 0's design cannot run it: "
                        f"simulate the whole model (generate per_layer=False)")
    names: dict[str, str] = {}
    for a, b in zip(n0, nl):
        names.update(zip(a.inputs + a.outputs, b.inputs + b.outputs))
    edges = dict(g.edges)
    for e0, el in names.items():
        edges[e0] = replace(g.edges[el], name=e0, producer=g.edges[e0].producer, consumers=list(g.edges[e0].consumers))
    nodes = [replace(a, attrs=b.attrs) for a, b in zip(n0, nl)] + [n for n in g.nodes if n.layer != 0]
    view = DataflowGraph(g.model, g.family, g.seq_len, g.hidden, g.layers, nodes, edges, list(g.inputs),
                         list(g.outputs), g.quant, decode=g.decode)
    view.__dict__["_wq"] = {}  # quantized weights are cached by node name: this layer's own
    return view, (None if vals is None else {e0: vals[el] for e0, el in names.items() if el in vals})


def _simulate(g: DataflowGraph, plan: Any, vals: dict, hw_dir: Path, build_dir: Path, run_dir: Path, gate_from: int,
              version: str, cfg_hash: str, target: Any, layers: int | None,
              stall: tuple[int, int, int] | None, lint: bool = False) -> tuple[dict, list[dict]]:
    """Emit (a region of) the decode design with its stimulus, lint it (`lint`), build it (or reuse its
    compiled model) and run it gated from token `gate_from`, then with random stalls unless `stall` is None."""
    from mase.eda import verilator

    from .library import write_library

    man = write_library(g, plan, vals, hw_dir, version, cfg_hash, target, layers=layers, top="mase_decode")
    if lint:  # the design as emitted, before its first simulation (once: every layer's RTL is layer 0's)
        man["lint"] = verilator.lint(hw_dir, man["core"], build_dir.parent / (build_dir.name + "_lint"))
    work = verilator.build(hw_dir, man["core"], build_dir)
    runs = [verilator.run(work, hw_dir / "stim", run_dir / "gated", man, seed=1, plusargs=(f"+gate_from={gate_from}",))]
    if stall:
        seed, st, bp = stall
        runs.append(verilator.run(work, hw_dir / "stim", run_dir / f"seed{seed}_s{st}_b{bp}", man, seed=seed,
                                  stall=st, bp=bp))
    return man, runs


def _latencies(run: dict, first: int) -> list[int]:
    """Cycles from each gated token's first input beat to its last output beat (tokens first..)."""
    tok = run.get("tokens", [])
    return [tok[i][1] - tok[i][0] + 1 for i in range(first, len(tok)) if tok[i][1] >= 0]


def generate(model: torch.nn.Module, tokenizer: Any, quant_cfg: Any, target: Any, hw: Any, out_dir: Path,
             prompt: list[int], n: int, version: str, cfg_hash: str, model_name: str | None = None,
             stall: tuple[int, int, int] | None = (2, 30, 30), per_layer: bool | None = None,
             progress: Any = None, jobs: int = 1) -> dict[str, Any]:
    """Emit the decode design for prompt + n tokens, generate n tokens greedily with the golden model,
    the software model and the float model, and in Verilator (gated run, then a run with random stalls
    and back-pressure `stall` = (seed, stall %, bp %) unless None). Returns the generate.json record.

    Whole model (default up to 4 decoder layers): one design, out_dir/hw_decode. `per_layer` (default
    above 4 layers, where a whole netlist simulates too slowly): layer 0's design, out_dir/hw_decode_layer,
    compiled once and simulated once per decoder layer with that layer's weights (`layer_view`), each
    fed the golden input of its layer and checked bit-exact on its output; the final norm (golden model)
    and lm_head run on the last layer's simulated output. Its cycles per token are the sum of the
    layers' simulated latencies plus the final norm's analytical one. `jobs` layers are simulated at once."""
    from .golden import Val, _norm
    from .params import choose_parameters, decode_model
    from .preflight import require_complete

    t0 = time.perf_counter()
    P, out_dir = len(prompt), Path(out_dir)
    g = decode_graph(model, quant_cfg, design_context(model, quant_cfg, P + n), hw, model_name)
    plan = choose_parameters(g, target, hw)
    require_complete(g, plan)
    kv_note = next((x for x in plan.notes if x.startswith("KV caches")), None)
    if kv_note:  # where the decode design keeps its KV caches (hw.kv_cache), and why
        log.info("decode design: %s", kv_note)
    # folded (hw.fold): the design is N layers whatever L, simulated whole (each token through L / N passes)
    per_layer = (g.layers > 4 and not plan.fold) if per_layer is None else per_layer
    if per_layer and plan.fold:
        raise MaseError(f"generate per_layer with hw.fold={plan.fold}: the folded decode design is simulated "
                        f"whole; drop per_layer")
    tokens_golden, vals = greedy_golden(model, g, prompt, n, keep_all=per_layer)
    t_golden = time.perf_counter() - t0
    tokens_sw = greedy_prefill(model, quant_cfg, hw, prompt, n, model_name)
    tokens_float = greedy_float(model, prompt, n)
    t_sw = time.perf_counter() - t0 - t_golden
    if not per_layer:
        man, runs = _simulate(g, plan, vals, out_dir / "hw_decode", out_dir / "build" / "sim_decode",
                              out_dir / "sim_decode", P, version, cfg_hash, target, None, stall, lint=True)
        out = man["outputs"][0]
        e = g.edges[out["edge"]]
        rows = read_fixed_rows(Path(runs[0]["log"]).parent / f"{out['port']}.out", e.fixed[0], out["lanes"], e.features)
        lat = _latencies(runs[0], P)
        model_cyc = [decode_model(g, plan, i + 1)["latency_cycles"] for i in range(P, P + len(lat))]
        layers_rec, lint = None, man.get("lint")
    else:
        def one(layer: int):  # each layer in its own folders; equal RTL shares one compiled model
            view, vv = layer_view(g, layer, vals)
            man, lr = _simulate(view, plan, vv, out_dir / "hw_decode_layer" / f"l{layer}",
                                out_dir / "build" / "sim_decode_layer" / f"l{layer}",
                                out_dir / "sim_decode" / f"layer{layer}", P, version, cfg_hash, target, 1,
                                stall if layer == 0 else None, lint=layer == 0)
            ll = _latencies(lr[0], P)
            rec = {"layer": layer, "bit_exact": all(r["passed"] for r in lr),
                   "cycles_per_token": sum(ll) / len(ll) if ll else None}
            if progress:
                progress(layer, rec)
            return view, man, lr, ll, rec

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(1, jobs)) as pool:  # the tools run in subprocesses: threads suffice
            done = list(pool.map(one, range(g.layers)))
        runs = [r for d in done for r in d[2]]
        lat = [sum(c) for c in zip(*(d[3] for d in done))]
        layers_rec = [d[4] for d in done]
        view, man = done[0][0], done[0][1]
        lint = man.get("lint")
        nodes = [nd.name for nd in view.nodes if nd.layer == 0]
        region = {"nodes": nodes, "inputs": [{**q, "beats": q["beats"] // (P + n - 1)} for q in man["inputs"]],
                  "outputs": man["outputs"]}
        positions = range(P + 1, P + 1 + len(lat))  # decode_model(c): the new token at position c - 1
        region_model = sum(decode_model(view, plan, c, region)["latency_cycles"] for c in positions) / len(lat)
        view, man = done[-1][0], done[-1][1]
        out = man["outputs"][0]
        e = view.edges[out["edge"]]
        last = read_fixed_rows(Path(runs[-1]["log"]).parent / f"{out['port']}.out", e.fixed[0], out["lanes"],
                               e.features)
        fnorm = next(nd for nd in g.nodes if nd.layer < 0)  # the final norm, on the host's golden model
        rows = _norm(fnorm, Val(last)).data
        per_position = [model_after_layers(g, plan, c) for c in positions]
        lat = [c + tail for c, (_, tail) in zip(lat, per_position)]
        model_cyc = [whole for whole, _ in per_position]
        for rec in layers_rec:
            rec["analytical_cycles_per_token"] = region_model
    t_sim = time.perf_counter() - t0 - t_golden - t_sw
    e_out = g.edges[g.outputs[0]]
    logits = _logits(model, rows.to(torch.float64) * 2.0 ** -e_out.fixed[1])
    tokens_hw = [int(t) for t in logits[P - 1:].argmax(-1)] if rows.shape[0] >= P + n - 1 else []
    first_bad = next((i for i, (a, b) in enumerate(zip(tokens_hw, tokens_golden)) if a != b),
                     None if len(tokens_hw) == n else len(tokens_hw))
    cpt = sum(lat) / len(lat) if lat else None
    cpt_model = sum(model_cyc) / len(model_cyc) if model_cyc else None
    text = tokenizer.decode(tokens_hw) if tokenizer is not None and tokens_hw else None
    return {
        "prompt_ids": list(prompt), "tokens_hw": tokens_hw, "tokens_golden": tokens_golden, "tokens_sw": tokens_sw,
        "tokens_float": tokens_float, "match": first_bad is None, "first_mismatch": first_bad,
        "match_sw": tokens_sw == tokens_golden, "match_float": tokens_float == tokens_golden,
        "text": text, "prompt_text": tokenizer.decode(prompt) if tokenizer is not None else None,
        "lint": {k: lint[k] for k in ("clean", "tool")} if lint else None,
        "bit_exact": all(r["passed"] for r in runs), "mismatches": [r["mismatches"] for r in runs if not r["passed"]],
        "context": g.seq_len, "tokens": P + n, "host": HOST_SIDE + ("; the final norm too (golden model on the last layer's simulated "
                                               "output)" if per_layer else ""),
        "simulated": ("every decoder layer, one at a time: layer 0's compiled model with each layer's weights, "
                      "fed its golden input" if per_layer else
                      f"the whole model, one folded design: {plan.fold} hardware decoder layer(s) x {plan.passes} "
                      f"passes a token (a KV cache bank per layer)" if plan.fold else "the whole model, one design"),
        "kv_cache": {"where": plan.kv_cache, "note": kv_note,
                     # off chip: the bus bytes of every layer's caches for the first generated token (analytical)
                     "offchip_traffic": decode_model(g, plan, P + 1).get("kv_offchip")},
        "fold": {"layers": plan.fold, "passes": plan.passes,
                 "bound": decode_model(g, plan, P + 1)["fold"]["bound"]} if plan.fold else None,
        "layers": layers_rec, "clock_mhz": plan.clock_mhz,
        "cycles_per_token": cpt, "cycles_per_token_source": "simulation (gated: each token enters when the "
                                                            "previous output has left)"
                                                            + ("; sum of the layers' latencies + the final norm's "
                                                               "analytical latency" if per_layer else ""),
        "cycles_per_token_each": lat, "tokens_per_s": plan.clock_mhz * 1e6 / cpt if cpt else None,
        "analytical_cycles_per_token": cpt_model, "analytical_each": model_cyc,
        "analytical_error": (cpt_model - cpt) / cpt if cpt and cpt_model else None,
        "numerics": {"golden": "decode (run_graph causal: KV cache)", "sw": "prefill numerics on every prefix, no KV "
                     "cache (hardware_perplexity's)", "float": "the PyTorch model in memory (quantize stage: "
                     "fake-quantized)"},
        "runs": [{k: r[k] for k in ("seed", "stall", "bp", "cycles", "passed", "log")} for r in runs],
        "seconds": {"golden": t_golden, "software": t_sw, "simulation": t_sim, "total": time.perf_counter() - t0},
    }
