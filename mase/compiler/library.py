"""Write the generated FuseSoC library of a run (see mase.compiler.emit for the layout).

    >>> man = write_library(graph, plan, vals, out_dir / "hw", version, cfg_hash, target, top="accel_a")
    >>> man["top"], man["core"], man["coverage"], man["missing"]   # accel_a, mase:gen:accel_a:<version>, ...
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from mase.eda.mx_linear import pad_weights
from mase.errors import MaseError
from mase.formats import get_format

from .cores import safe
from .diagram import dataflow_svg
from .emit import (GLUE, edge_beats, emit_core, emit_tb, emit_top, fold_region, header, json_text, make_region,
                   map_graph, write_text)
from .golden import L, acc_spec
from .graph import DataflowGraph
from .params import HwPlan, fold_layer, layer_name

TOP = "mase_top"
OFFCHIP_IMAGE = "offchip.hex"  # mem/: the memory image of the streamed weights (+ offchip.json, its address map)
GENERATED_DIRS = ("rtl", "tb", "mem", "stim", "constraints")


def _hex(fields: torch.Tensor, bits: int) -> str:
    """Rows of integer fields -> $readmemh text, field 0 in the least significant bits of each word
    (mase.formats.packing, the numerics library's vectorised packer)."""
    from mase.formats.packing import _pack_fields, to_hex_lines

    f = fields.shape[-1]
    if bits in (4, 8):  # fast path: every field is one or two whole hex digits
        import numpy as np

        v = (fields.reshape(-1, f).to(torch.int64) & ((1 << bits) - 1)).numpy()[:, ::-1]
        if bits == 8:
            v = np.stack([v >> 4, v & 15], -1).reshape(v.shape[0], -1)
        chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[v]
        lines = np.concatenate([chars, np.full((chars.shape[0], 1), ord("\n"), np.uint8)], 1)
        return lines.tobytes().decode()
    return to_hex_lines(_pack_fields(fields.reshape(-1, f), bits, f), f * bits)


def image_texts(params: dict, codes: torch.Tensor, scales: torch.Tensor, bias) -> tuple[str, str, str]:
    """The (weights, scales, bias) ROM images of mx_linear (word order of mase.eda.mx_linear):
    codes (out, nb, k) raw element codes, scales (out, nb) bytes, bias int64 (out,) at 2**ACC_LSB."""
    o, nb, k = codes.shape
    op, ip = params["OUT_PAR"], params["IN_PAR"]
    w = (codes.to(torch.int64) & ((1 << params["W_WIDTH"]) - 1)).reshape(o // op, op, nb * k // ip, ip)
    wt = _hex(w.permute(0, 2, 1, 3).reshape(-1, op * ip), params["W_WIDTH"])
    st = _hex(scales.to(torch.int64).reshape(o // op, op, nb).permute(0, 2, 1).reshape(-1, op), 8)
    if bias is None:
        bt = "0\n"
    else:
        lim = 1 << (params["ACC_W"] - 1)
        bt = _hex(bias.to(torch.int64).clamp(-lim, lim - 1).reshape(o // op, op), params["ACC_W"])
    return wt, st, bt


def quantized_weight(g: DataflowGraph, node):
    """The node's weights in its MX format (cached on the graph: the golden run quantizes them too)."""
    a = node.attrs
    cache = g.__dict__.setdefault("_wq", {})
    if node.name not in cache:
        cache[node.name] = get_format(a["weight_fmt"], a["block"]).quantize(a["weight"].float(), axis=-1)
    return cache[node.name]


def weight_codes(g: DataflowGraph, node) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw element codes (out, nb, k) and scale bytes (out, nb) of a linear's weights; fixed8 weights
    are blocked like MX ones under their constant byte (the cores ignore it: W_FIXED_SCALE)."""
    wq = quantized_weight(g, node)
    if wq.format.name == "fixed8":
        ints, scales, _ = L._blocks_of(wq, node.attrs["block"], None)
        return ints & 0xFF, scales
    return wq.elements.to(torch.int64), wq.scales.to(torch.int64)  # raw codes (not the integers I)


def _linear_images(g: DataflowGraph, node, inst, mem_dir: Path, layer_nodes: list | None = None) -> list[str]:
    """The ROM images of a linear layer: weights, scales and bias, or only the bias when its weights are
    streamed (W_SOURCE 1); folded (`layer_nodes`, hw.fold), the bias of every layer one bank after the other."""
    texts = {}
    for i, n in enumerate(layer_nodes or [node]):
        a = n.attrs
        codes, scales = weight_codes(g, n)
        bias = None
        if a["has_bias"]:
            bq = get_format(a["bias_fmt"], a["block"]).fake_quantize(a["bias"].float(), axis=-1)
            bias = L.quantize_bias(bq, acc_spec(n))
        codes, scales, bias = pad_weights(inst.params, codes, scales, bias if inst.params["HAS_BIAS"] else None)
        for k, text in zip(("W_FILE", "S_FILE", "B_FILE"), image_texts(inst.params, codes, scales, bias)):
            if k in inst.params and (i == 0 or k == "B_FILE"):
                texts[k] = texts.get(k, "") + text
    for k, text in texts.items():
        write_text(mem_dir / inst.params[k], text)
    return [inst.params[k] for k in texts]


def _w_stream_text(g: DataflowGraph, node, inst, n_vectors: int) -> tuple[str, int]:
    """mx_linear's own w_data stream of a W_SOURCE = 1 linear ($readmemh text, number of beats; the words
    mx_wstream_unpack gives it from the top's compact stream, _w_port_text): the ROM words
    {scales, weights} of mase.eda.mx_linear.weight_stream_beats, once per input vector, formatted
    on whole arrays (same text as formatting each beat)."""
    p = inst.params
    ww = p["W_WIDTH"]
    codes, scales, _ = pad_weights(p, *weight_codes(g, node))  # zero rows/blocks up to the core's sizes
    codes = codes & ((1 << ww) - 1)  # raw codes
    if ww not in (4, 8):
        from mase.eda.mx_linear import weight_stream_beats

        width = p["OUT_PAR"] * (8 + p["IN_PAR"] * ww)
        beats = weight_stream_beats(p, (codes, scales), n_vectors)
        return "".join(format(b, f"0{-(-width // 4)}x") + "\n" for b in beats), len(beats)
    o, nb, k = codes.shape
    op, ip = p["OUT_PAR"], p["IN_PAR"]
    bpb = p["K"] // ip
    w = codes.reshape(o // op, op, nb * k // ip, ip).permute(0, 2, 1, 3).reshape(o // op, -1, op * ip)
    s = scales.reshape(o // op, op, nb).permute(0, 2, 1).repeat_interleave(bpb, dim=1)  # (rg, beat, op)
    if ww == 4:  # a scale byte = two 4-bit fields, low nibble first
        s = torch.stack([s & 15, s >> 4], -1).reshape(s.shape[0], s.shape[1], 2 * op)
    fields = torch.cat([w, s], -1)
    one = _hex(fields.reshape(-1, fields.shape[-1]), ww)
    n = fields.shape[0] * fields.shape[1]
    return one * n_vectors, n * n_vectors


def _w_compact(g: DataflowGraph, node, inst) -> bytes:
    """One input vector's weights of a streamed linear in the compact off-chip format the top's w_ port
    carries (mase.eda.mx_linear.compact_weight_stream: per row group and input block, OUT_PAR scale bytes
    then its K/IN_PAR element fields; mx_wstream_unpack re-forms mx_linear's w_data words), padded to
    whole port beats."""
    from mase.eda.mx_linear import compact_weight_stream

    codes, scales, _ = pad_weights(inst.params, *weight_codes(g, node))  # zero rows/blocks up to the core's sizes
    return compact_weight_stream(inst.params, codes, scales)


def _beats_text(raw: bytes, beat_bytes: int) -> tuple[str, int]:
    """$readmemh text of a byte stream cut into beats of beat_bytes (byte 0 in the low bits), and the beats."""
    import numpy as np

    a = np.frombuffer(raw, dtype=np.uint8).reshape(-1, beat_bytes)[:, ::-1]
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    digits = np.stack([chars[a >> 4], chars[a & 15]], -1).reshape(a.shape[0], -1)
    lines = np.concatenate([digits, np.full((digits.shape[0], 1), ord("\n"), np.uint8)], 1)
    return lines.tobytes().decode(), a.shape[0]


def _w_port_text(g: DataflowGraph, node, inst, n_vectors: int) -> tuple[str, int]:
    """The w_ port's stimulus of a streamed linear ($readmemh text, beats): the compact stream of its
    weights once per input vector."""
    from mase.eda.mx_linear import wstream_params

    text, beats = _beats_text(_w_compact(g, node, inst), wstream_params(inst.params)["IN_BYTES"])
    return text * n_vectors, beats * n_vectors


OFFCHIP_LAYOUT = ("the streamed layers' compact weight streams, one region per streamed linear layer in the order "
                  "of `regions`, each starting at a bus-word boundary (word address base_word, byte address "
                  "base_byte = base_word x word_bytes): the layer's weights for one input vector, per row group "
                  "(OUT_PAR rows) and input block (K elements), its OUT_PAR scale bytes (none for fixed8) then "
                  "its K/IN_PAR element fields of OUT_PAR x IN_PAR codes (mx_linear's w_data element field, lane "
                  "0 first), a bit stream from bit 0 of byte 0 (least significant bit first) with no gap, "
                  "zero-padded to whole port beats of beat_bytes bytes (mx_wstream_unpack's IN_BYTES); "
                  "zero bytes after the last beat to the end of its word. $readmemh text: one bus word a "
                  "line, word address = line, most significant hex digit first (byte 0 = the two last digits)")


def offchip_image(g: DataflowGraph, plan: HwPlan, insts: dict, w_ports: list, name: str,
                  passes: int = 1, fold: int = 1) -> tuple[str, dict]:
    """The memory image of every streamed weight (mase.compiler.params.memory_model's bus): its
    $readmemh text and its address map (OFFCHIP_LAYOUT; regions in the order of `w_ports`). Folded
    (`passes` > 1, hw.fold=`fold`): one region per (port, layer), pass by pass in the order the reused
    hardware reads them: in pass p every port's region (in port order) of the layer its hardware
    layer h computes, h + p x fold (pass 0: layers 0..fold-1, pass 1: fold..2 fold-1, ...); equal sizes:
    a port's pass p region starts pass_stride_words after its pass p - 1 region."""
    import numpy as np

    from .params import dma_fifo_words, stream_beat_bits, stream_beats

    mem = plan.memory
    wb = mem["bus_bits"] // 8
    words, regions, base = [], [], 0
    for pss, (port, node, width) in ((p, w) for p in range(passes) for w in w_ports):
        hw_layer = fold_layer(node)
        layer = hw_layer + pss * fold if passes > 1 else hw_layer
        n, inst = g.node(layer_name(node, layer) if passes > 1 else node), insts[node]
        raw = _w_compact(g, n, inst)
        bb = stream_beat_bits(n, plan.nodes[node]) // 8
        if bb * 8 != width or len(raw) % bb:
            raise ValueError(f"{node}: the w_ port's {width}-bit beats differ from the plan's {bb} bytes")
        beats = len(raw) // bb
        if beats != stream_beats(n, plan.nodes[node]):  # the decode and cycle models count the image's beats
            raise ValueError(f"{node}: {beats} beats in the image, the plan counts {stream_beats(n, plan.nodes[node])}")
        nw = -(-len(raw) // wb)
        arr = np.frombuffer(raw + bytes(nw * wb - len(raw)), dtype=np.uint8).reshape(nw, wb)
        words.append(arr)
        # the DMA channel's buffer (mase.compiler.params.memory_model): at most one pass of the region
        fifo = dma_fifo_words(mem, nw)
        regions.append({"port": port, "node": n.name, "layer": layer, "pass": pss, "base_word": base, "base_byte": base * wb, "words": nw,
                        "bytes": len(raw), "beats": beats, "width": width, "beat_bytes": bb, "fifo_words": fifo})
        base += nw
    allw = np.concatenate(words) if words else np.zeros((0, wb), np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    digits = np.stack([chars[allw[:, ::-1] >> 4], chars[allw[:, ::-1] & 15]], -1).reshape(allw.shape[0], 2 * wb)
    lines = np.concatenate([digits, np.full((digits.shape[0], 1), ord("\n"), np.uint8)], 1)
    amap = {"file": name, "bus_bits": mem["bus_bits"], "word_bytes": wb, "words": base, "bytes": base * wb,
            "weight_bytes_per_token": sum(r["bytes"] for r in regions), "layout": OFFCHIP_LAYOUT,
            "dma_buffer_bytes": sum(r["fifo_words"] for r in regions) * wb,
            "protocol": mem["protocol"], "memory_model": mem, "regions": regions}
    if passes > 1:  # hw.fold: each DMA channel reads its pass p region once per token of pass p
        # (the decode design: a pass is one token, so the regions alternate token by token)
        amap.update(passes=passes, tokens_per_pass=1 if g.decode else g.seq_len,
                    pass_stride_words=sum(r["words"] for r in regions if r["pass"] == 0))
        amap["dma_buffer_bytes"] = sum(r["fifo_words"] for r in regions if r["pass"] == 0) * wb
    return lines.tobytes().decode(), amap


def _norm_image(node, inst, mem_dir: Path, layer_nodes: list | None = None) -> str:
    """The scale (and bias) words of a norm: one word per beat, {bias lanes, scale lanes}; folded
    (`layer_nodes`: the node of every layer, hw.fold), every layer's words one after the other."""
    if layer_nodes:
        text = "".join(_norm_words(n, inst) for n in layer_nodes)
    else:
        text = _norm_words(node, inst)
    write_text(mem_dir / inst.rom[1], text)
    return inst.rom[1]


def _norm_words(node, inst) -> str:
    from mase.golden import nonlinear as G

    a, p = node.attrs, inst.params
    lanes = p["LANES"]
    g = G.to_fixed(a["gamma"], p["G_W"], a["g_f"]).reshape(-1, lanes)
    fields, widths = [g], [p["G_W"]]
    if a.get("beta") is not None and node.op == "layernorm":
        fields.append(G.to_fixed(a["beta"], p["OUT_W"], a["out_f"]).reshape(-1, lanes))
        widths.append(p["OUT_W"])
    elif node.op == "layernorm":
        fields.append(torch.zeros_like(g))
        widths.append(p["OUT_W"])
    total = sum(widths) * lanes
    words = []
    for row in range(g.shape[0]):
        word, sh = 0, 0
        for f, w in zip(fields, widths):
            for lane in range(lanes):
                word |= (int(f[row, lane]) & ((1 << w) - 1)) << sh
                sh += w
        words.append(format(word, f"0{-(-total // 4)}x"))
    return "".join(w + "\n" for w in words)


def _own_file_names(insts: dict, top: str) -> None:
    """Memory images named <top>.<file>: FuseSoC copies every image into one build folder, so the
    images of two accelerators in a project must not share names (the default top keeps its names)."""
    for inst in insts.values():
        for k in ("W_FILE", "S_FILE", "B_FILE"):
            if k in inst.params:
                inst.params[k] = f"{top}.{inst.params[k]}"
        inst.weights = {kind: f"{top}.{name}" for kind, name in inst.weights.items()}
        if inst.rom:
            inst.rom = (inst.rom[0], f"{top}.{inst.rom[1]}", *inst.rom[2:])


def write_library(g: DataflowGraph, plan: HwPlan, vals: dict | None, hw_dir: Path, version: str, cfg_hash: str,
                  target: Any, roots=None, layers: int | None = None, top: str = TOP,
                  vlnv: str | None = None) -> dict[str, Any]:
    """Emit the library into hw_dir; returns the manifest (also written as hw/manifest.json).
    With `layers`, only the nodes of the first `layers` decoder layers (a simulation library).
    `top` names the top module (hw.top), `vlnv` the core (hw.vlnv; default mase:gen:<top>:<version>),
    so that accelerators of two runs can live in one FuseSoC project.

    The tensor work here (quantizing weights, packing images) is many small element-wise ops, on
    which torch's intra-op threads mostly wait for each other (up to ~90 ms per call on a loaded
    2-core machine): it runs on one thread, with the same results."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _write_library(g, plan, vals, hw_dir, version, cfg_hash, target, roots, layers, top,
                              vlnv or f"mase:gen:{top}:{version}")
    finally:
        torch.set_num_threads(threads)


def _write_library(g: DataflowGraph, plan: HwPlan, vals: dict | None, hw_dir: Path, version: str, cfg_hash: str,
                   target: Any, roots, layers: int | None, top: str, vlnv: str) -> dict[str, Any]:
    hw_dir = Path(hw_dir)
    for d in GENERATED_DIRS:
        shutil.rmtree(hw_dir / d, ignore_errors=True)
    only = None if layers is None else {n.name for n in g.nodes if 0 <= n.layer < layers}
    # layer reuse (hw.fold=N): decoder layers 0..N-1's hardware, `passes` = plan.passes over the prompt;
    # hardware layer h computes layers h, h + N, ... (`twins`: the node of every pass); 0: not folded
    passes = plan.passes if plan.fold and layers is None else 0
    sub_layers = None  # a simulation library of the folded prefill design: its first `layers` layers
    if plan.fold and layers is not None and not g.decode:
        if layers % plan.fold:
            raise MaseError(f"hw.sim_layers={layers} under hw.fold={plan.fold}: the folded hardware computes "
                            f"{plan.fold} layers a pass, so simulate a multiple of {plan.fold} layers")
        passes, sub_layers = layers // plan.fold, layers
    if passes:
        # the hardware layers, and (whole design) the nodes after the layers: the final norm
        only = {n.name for n in g.nodes if n.layer < plan.fold and (sub_layers is None or n.layer >= 0)}

        def twins(name: str) -> list:
            return [g.node(layer_name(name, fold_layer(name) + p * plan.fold)) for p in range(passes)]
    insts, missing = map_graph(g, plan, roots, only)
    # tokens of a pass: the prompt; the decode design (g.decode) takes every token through all the passes
    # before the next one, so a pass is one token and each hardware layer keeps a KV cache per pass
    rows = 1 if g.decode else g.seq_len
    if passes:
        _check_fold(g, plan, insts, roots)
        if g.decode:
            _bank_kv_caches(insts, passes)
    if top != TOP:
        _own_file_names(insts, top)
    region = make_region(g, top, insts)
    if passes:
        fold_region(g, region, passes, rows, plan.fold, sub_layers)
    deps = sorted({i.vlnv for i in insts.values()} | {"mase:mx:stream", GLUE} | ({"mase:mx:loop"} if passes else set()))
    mem_files: list[str] = []
    for n in g.nodes:
        if n.name in insts and insts[n.name].weights:
            per_layer = None
            if passes and insts[n.name].params.get("HAS_BIAS"):  # a bias bank per layer, one per pass
                per_layer = twins(n.name)
                insts[n.name].params.update(B_BANKS=passes, B_VECTORS=rows)
            mem_files += _linear_images(g, n, insts[n.name], hw_dir / "mem", per_layer)
        if n.name in insts and insts[n.name].rom:
            per_layer = twins(n.name) if passes and n.layer >= 0 else None
            mem_files.append(_norm_image(n, insts[n.name], hw_dir / "mem", per_layer))
    beats: dict[str, int] = {}
    stim_ports = []
    for port, e, lanes in region.inputs + region.outputs:
        ext = "hex" if (port, e, lanes) in region.inputs else "exp"
        stim_ports.append(port)
        if vals is not None:
            words = edge_beats(g.edges[e], vals[e], lanes)
            write_text(hw_dir / "stim" / f"{port}.{ext}", "".join(w + "\n" for w in words))
            beats[port] = len(words)
        else:
            edge = g.edges[e]
            beats[port] = g.seq_len * edge.padded // lanes
    # weights streamed once per input vector: the prompt's tokens, or the decode design's tokens fed
    n_vectors = vals[g.inputs[0]].data.shape[0] if g.decode and vals is not None else g.seq_len
    for port, node, _ in region.w_ports:
        stim_ports.append(port)
        if passes and g.decode:  # every token reads every layer's weights in turn, one pass after the other
            parts = [_w_port_text(g, t, insts[node], 1) for t in twins(node)]
            text, beats[port] = "".join(t for t, _ in parts) * n_vectors, sum(b for _, b in parts) * n_vectors
        elif passes:  # every layer's weights in turn, once per token of each pass
            parts = [_w_port_text(g, t, insts[node], n_vectors) for t in twins(node)]
            text, beats[port] = "".join(t for t, _ in parts), sum(b for _, b in parts)
        else:
            text, beats[port] = _w_port_text(g, g.node(node), insts[node], n_vectors)
        write_text(hw_dir / "stim" / f"{port}.hex", text)
    amap = None
    if (region.w_ports or region.kv_ports) and plan.memory:  # the off-chip memory the testbench's model serves
        image = OFFCHIP_IMAGE if top == TOP else f"{top}.{OFFCHIP_IMAGE}"
        text, amap = offchip_image(g, plan, insts, region.w_ports, image, max(1, passes), max(1, plan.fold))
        if region.kv_ports:  # the KV caches after the weights (written by the design; not in the image file)
            from . import kv_offchip

            amap["kv_regions"], amap["kv_words"] = kv_offchip.regions(g, plan, insts, amap["words"])
            amap["kv_layout"] = kv_offchip.LAYOUT
        write_text(hw_dir / "mem" / image, text)
        write_text(hw_dir / "mem" / (image.removesuffix(".hex") + ".json"), json_text(amap))
        mem_files.append(image)
    for old in list(hw_dir.glob("*.core")):  # the core of an earlier hw.top: one accelerator per library
        old.unlink()
    write_text(hw_dir / "rtl" / f"{top}.sv", emit_top(g, plan, region, version, cfg_hash))
    gate = None
    if g.decode and vals is not None:  # a token at a time: the testbench can hold each one back (lockstep)
        gate = (beats[region.inputs[0][0]] // n_vectors, beats[region.outputs[0][0]] // n_vectors)
    write_text(hw_dir / "tb" / f"tb_{top}.sv", emit_tb(g, region, beats, version, cfg_hash, gate, amap))
    period = 1000.0 / plan.clock_mhz
    write_text(hw_dir / "constraints" / "clock.xdc",
               header(version, cfg_hash, "clock constraint", "#") + f"create_clock -period {period:.3f} -name clk [get_ports clk]\n")
    write_text(hw_dir / "constraints" / "clock.sdc",
               header(version, cfg_hash, "clock constraint", "#") + f"create_clock -period {period:.3f} -name clk [get_ports clk]\n")
    write_text(hw_dir / f"{top}.core", emit_core(region, deps, mem_files, stim_ports, version, cfg_hash, target, vlnv,
                                                         max(beats.values(), default=0)))
    params = {n: {"op": g.node(n).op, "core": i.vlnv, "module": i.module, "parameters": i.params,
                  "lanes_in": [l for _, _, l in i.inputs], "lanes_out": i.output[2]} for n, i in insts.items()}
    params_doc = {"header": f"mase {version} config {cfg_hash}", "nodes": params, "plan": plan.to_dict()}
    write_text(hw_dir / "params.json", json_text(params_doc))
    missing_rows = {n: {"op": g.node(n).op, "core": u.vlnv, "reason": u.reason} for n, u in missing.items()}
    by_core: dict[str, int] = {}
    for u in missing.values():
        by_core[u.vlnv] = by_core.get(u.vlnv, 0) + 1
    total = len(g.nodes) if only is None else len(only)
    man = {"top": top, "core": vlnv, "nodes_total": total, "nodes_mapped": len(insts),
           "layers": g.layers if layers is None else layers, "subset": layers is not None,
           "complete": not missing, "coverage": len(insts) / max(1, total),
           "inputs": [{"port": p, "edge": e, "lanes": l, "beats": beats.get(p)} for p, e, l in region.inputs],
           "outputs": [{"port": p, "edge": e, "lanes": l, "beats": beats.get(p)} for p, e, l in region.outputs],
           "w_ports": [{"port": p, "node": n, "beats": beats.get(p)} for p, n, _ in region.w_ports],
           "offchip_image": amap and {k: amap[k] for k in ("file", "bus_bits", "words", "weight_bytes_per_token")},
           "kv_cache": plan.kv_cache if g.decode else None,
           "fold": region.loop and {"layers": plan.fold, "passes": passes, "loop": region.loop},
           "missing_by_core": dict(sorted(by_core.items())), "missing": missing_rows, "depends": deps,
           "mem_files": len(mem_files), "config_hash": cfg_hash, "mase_version": version,
           "graph_outputs_covered": all(e in [x for _, x, _ in region.outputs] for e in g.outputs)}
    write_text(hw_dir / "manifest.json", json_text(man))
    graph_text = json_text(g.to_dict())
    write_text(hw_dir / "graph.json", graph_text)
    write_text(hw_dir / "dataflow.svg", dataflow_svg(json.loads(graph_text), json.loads(json_text(params_doc))))
    write_text(hw_dir / "README.md", f"<!-- Generated by mase {version} from config {cfg_hash} -->\n" + _readme(man))
    return man


def _bank_kv_caches(insts: dict, passes: int) -> None:
    """The folded decode design (hw.fold with g.decode): each hardware layer's K cache (mase_attn_matmul
    CHUNK 1) and V cache (mase_transpose_pad STEP 1) hold one bank per layer it computes, served in
    turn, one pass each (BANKS = passes; the chunk / token advances after the last bank)."""
    for inst in insts.values():
        if inst.module == "mase_attn_matmul" and inst.params.get("CHUNK") == 1:
            inst.params["BANKS"] = passes
        for mod, prm, _ in inst.pre:
            if mod == "mase_transpose_pad" and prm.get("STEP") or mod == "mase_kv_stream_v":
                prm["BANKS"] = passes
        if inst.kv and inst.kv["kind"] == "k":  # the KV caches off chip: a bank per layer, in the memory
            inst.kv["stream"][1]["BANKS"] = passes


def _check_fold(g: DataflowGraph, plan: HwPlan, insts: dict, roots) -> None:
    """Layer reuse computes layer h + p x N on hardware layer h: each layer's nodes must map onto the
    same cores with the same parameters (formats, accumulator windows, lanes; not the weights, which
    stream, nor the norms' parameters and biases, which the pass selects). One line naming the first
    difference."""
    from .cores import available_cores, map_node

    avail = available_cores(roots)
    skip = ("W_FILE", "S_FILE", "B_FILE")
    n_hw, passes = plan.fold, plan.passes
    for p in range(1, passes):
        for name, inst in insts.items():
            h = g.node(name).layer
            if h < 0:
                continue
            other = layer_name(name, h + p * n_hw)
            if other not in plan.nodes:
                raise MaseError(f"hw.fold={n_hw}: decoder layer {h + p * n_hw} has no node {other} like layer {h}'s "
                                f"{name}: the layers differ, use hw.fold=0")
            twin = map_node(g.node(other), plan.nodes[other], g, avail)
            diff = [k for k in inst.params if k not in skip and twin.params.get(k) != inst.params[k]]
            if diff or [x[2] for x in twin.inputs] != [x[2] for x in inst.inputs]:
                k = diff[0] if diff else "lanes"
                raise MaseError(f"hw.fold={n_hw}: {other} needs {k}={twin.params.get(k)} but the hardware layer {h} "
                                f"computing it has {inst.params.get(k)} (the layers' calibrated formats differ): "
                                f"use hw.fold=0")


def _readme(man: dict) -> str:
    lines = [f"# Generated library: {man['core']}", "",
             f"{man['nodes_mapped']} of {man['nodes_total']} graph nodes are mapped onto existing mase:mx cores.", ""]
    if man["missing_by_core"]:
        lines += ["Not mapped yet (core: nodes):", ""] + [f"- {c}: {n}" for c, n in man["missing_by_core"].items()] + [""]
    lines += ["Use it as a FuseSoC library next to mase's cores/:", "",
              f"    fusesoc --cores-root <mase>/cores --cores-root hw run --target lint {man['core']}", ""]
    return "\n".join(lines)
