"""The accelerator at a glance: hw/dataflow.svg, drawn from what emit writes (graph.json, params.json).

One box per node; the decoder layers are identical, so layer 0 stands for all of them (its boxes say
"x L"). A box is coloured by its core and shows the node, its core module, its lanes, cycles per
token and estimated resources; the bottleneck (the most cycles per token: it sets the II) has a red
border. Rows follow the dataflow (each node one row below its deepest producer). Plain SVG, no
timestamps: the same config draws the same file.

    >>> svg = dataflow_svg(graph_dict, params_dict)   # json.load of hw/graph.json and hw/params.json
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN, TITLE_H = 270, 70, 20, 34, 20, 40
PALETTE = ("#cfe2f3", "#d9ead3", "#fff2cc", "#f4cccc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc", "#e6e6e6")
_LAYER = re.compile(r"\.layers\.\d+\.")


def _short(name: str) -> str:
    return _LAYER.sub(".", name).removeprefix("model.")


def _collapsed(graph: dict) -> tuple[list[str], dict[str, dict], list[tuple[str, str]]]:
    """Drawn boxes (layer 0 for every decoder layer, plus the nodes outside the layers), their nodes,
    and the edges between boxes (in dataflow order: an edge back to an earlier box, from layer i to
    i + 1, is dropped)."""
    key = {n["name"]: _LAYER.sub(".layers.*.", n["name"]) for n in graph["nodes"]}
    boxes: dict[str, dict] = {}
    for n in graph["nodes"]:
        if key[n["name"]] not in boxes and n.get("layer", -1) <= 0:
            boxes[key[n["name"]]] = n
    for n in graph["nodes"]:  # nodes only in later layers (none in the models mase maps today)
        boxes.setdefault(key[n["name"]], n)
    order = list(boxes)
    producer = {e: key[n["name"]] for n in graph["nodes"] for e in n["outputs"]}
    edges = []
    for n in graph["nodes"]:
        for e in n["inputs"]:
            a, b = producer.get(e), key[n["name"]]
            if a is not None and a != b and order.index(a) < order.index(b) and (a, b) not in edges:
                edges.append((a, b))
    return order, boxes, edges


def dataflow_svg(graph: dict, params: dict, title: str | None = None) -> str:
    order, boxes, edges = _collapsed(graph)
    plan = params.get("plan", {}).get("nodes", {})
    cores = params.get("nodes", {})
    depth: dict[str, int] = {}
    for b in order:
        depth[b] = 1 + max((depth[a] for a, c in edges if c == b), default=-1)
    rows: dict[int, list[str]] = {}
    for b in order:
        rows.setdefault(depth[b], []).append(b)
    cyc = {b: (plan.get(boxes[b]["name"]) or {}).get("cycles_per_token") or 0 for b in order}
    worst = max(cyc.values(), default=0)
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted({(cores.get(boxes[b]["name"]) or {}).get(
        "core", "unmapped") for b in order}))}
    width = max(len(r) for r in rows.values()) * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN + TITLE_H
    pos = {b: (MARGIN + i * (BOX_W + GAP_X) + (width - 2 * MARGIN - len(r) * (BOX_W + GAP_X) + GAP_X) // 2,
               MARGIN + TITLE_H + d * (BOX_H + GAP_Y)) for d, r in rows.items() for i, b in enumerate(r)}
    layers = int(graph.get("layers") or 1)
    head = title or (f"{graph.get('model')} {graph.get('quant')}: {len(graph['nodes'])} nodes, {layers} decoder "
                     f"layers (layer 0 drawn for all), II {params.get('plan', {}).get('ii')} cycles/token")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{MARGIN}" y="{MARGIN + 14}" font-size="14" font-weight="bold">{escape(head)}</text>']
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        out.append(f'<line x1="{xa + BOX_W // 2}" y1="{ya + BOX_H}" x2="{xb + BOX_W // 2}" y2="{yb}" stroke="#555" '
                   f'marker-end="url(#arrow)"/>')
    for b in order:
        n, (x, y) = boxes[b], pos[b]
        p, c = plan.get(n["name"]) or {}, cores.get(n["name"]) or {}
        hot = worst and cyc[b] == worst
        many = f" (x{layers})" if ".layers.*." in b and layers > 1 else ""
        lanes = f"{p.get('in_par')} x {p.get('out_par')}" if n["op"] == "linear" else f"{p.get('in_par', '?')}"
        lines = [(_short(n["name"]) + many, "bold"), (f"{n['op']}: {c.get('module', 'no core')}", "normal"),
                 (f"lanes {lanes}, {cyc[b]} cyc/token" + (" (bottleneck)" if hot else ""), "normal"),
                 (f"LUT {p.get('lut', 0):,.0f} DSP {p.get('dsp', 0):,.0f} BRAM {p.get('bram', 0):,.0f}", "normal")]
        out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{colours[c.get("core", "unmapped")]}" '
                   f'stroke="{"#cc0000" if hot else "#666"}" stroke-width="{3 if hot else 1}"/>')
        out.append(f"<title>{escape(n['name'])} ({escape(c.get('core', 'unmapped'))})</title>")
        for i, (text, weight) in enumerate(lines):
            out.append(f'<text x="{x + 8}" y="{y + 16 + 15 * i}" font-weight="{weight}">{escape(text[:44])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
