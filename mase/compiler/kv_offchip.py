"""KV caches of the decode design in off-chip memory (hw.kv_cache; issue 12 §1, mase/compiler/README.md
"KV caches off chip").

On chip (the default where it fits) each hardware layer keeps its K cache in `mase_attn_matmul` (CHUNK
1, a bank per layer it computes) and its V cache in `mase_transpose_pad` (STEP 1). Off chip the caches
live in the memory the streamed weights come from, on the same bus:

- K: `mase_kv_stream_k` sends Q.K^T's B operand (every position of the context: the cached keys read
  back, the new key, zero keys) into a `mase_attn_matmul` without a replay buffer (ROWS 1: a B per token
  and pass), and the new key to a write port. Memory: per bank (a layer), a row per token of the K
  stream's beats ({scale, PAR_D codes}, each in whole bytes), rows `row_stride` words apart.
- V: `mase_kv_stream_v` replaces the transposer: it writes the token's F values one by one into the
  cache, stored transposed (a row per feature, T_PAD values of `elem_bytes` bytes), and drains V^T for
  the quantizer, the earlier tokens read back row by row (ceil(t / LANES) beats of LANES values a row).

Ports of the generated top (AXI4-Stream, valid/ready, TDATA lane 0 in the low bits): `kw_<node>` /
`kr_<node>` (K: write, read), `vw_<node>` / `vr_<node>` (V). In a system each is a DMA channel into the
memory of the weights (S2MM for the writes, MM2S for the reads), programmed per token: the read of token
t of a bank after the write responses of token t - 1 of that bank (the testbench's mx_tb_kvwr /
mx_tb_kvrd, `committed`).
"""

from __future__ import annotations

import math
from typing import Any

from mase.errors import MaseError

KV_MODES = ("auto", "onchip", "offchip")  # hw.kv_cache


def kv_nodes(g: Any, layer: int = 0) -> list:
    """The nodes of decoder layer `layer` that keep a KV cache in the decode design: Q.K^T (K) and V's
    quantizer along the tokens (V)."""
    return [n for n in g.nodes if n.layer == layer and (n.op == "matmul_qk" or
                                                         (n.op == "quantize" and n.attrs.get("along") == "tokens"))]


def _pow2_bytes(bits: int) -> int:
    b = -(-bits // 8)
    return 1 << max(0, (b - 1).bit_length())


def cache_shape(g: Any, n: Any, par: int, word_bytes: int) -> dict[str, Any]:
    """The memory layout and stream widths of node `n`'s cache (par: its lanes; word_bytes: the bus's)."""
    from .cores import width

    T = g.seq_len
    if n.op == "matmul_qk":
        e, ea = g.edges[n.inputs[1]], g.edges[n.inputs[0]]
        d = -(-n.attrs["head_dim"] // ea.block) * ea.block
        bw = width(e, par)
        beats = n.attrs["kv_heads"] * (d // par)  # one position: every KV group's head segment
        bb = -(-bw // 8)
        row = -(-beats * bb // word_bytes)
        return {"kind": "k", "node": n.name, "width": bw, "beat_bytes": bb, "run_beats": beats, "rows": T,
                "row_stride": row, "bank_stride": T * row, "lanes": par}
    src, out = g.edges[n.inputs[0]], g.edges[n.outputs[0]]
    w = src.fixed[0]
    eb = _pow2_bytes(w)
    if word_bytes % eb:
        raise MaseError(f"hw.kv_cache=offchip: V values of {8 * eb} bits do not tile a {8 * word_bytes}-bit bus word: "
                        f"choose hw.bus_bits as a multiple of {8 * eb}")
    t_pad = -(-T // out.block) * out.block
    row = -(-t_pad * eb // word_bytes)
    return {"kind": "v", "node": n.name, "width": w, "elem_bytes": eb, "beat_bytes": par * eb, "lanes": par,
            "features": src.features, "t_pad": t_pad, "rows": src.features, "row_stride": row,
            "bank_stride": src.features * row}


def bus_words(shape: dict[str, Any], t: int, word_bytes: int) -> tuple[int, int]:
    """Bus words one bank of a cache reads and writes for the token at position t (t earlier tokens)."""
    if shape["kind"] == "k":
        return t * shape["row_stride"], shape["row_stride"]
    beats = -(-t // shape["lanes"])
    return (shape["features"] * -(-beats * shape["beat_bytes"] // word_bytes) if t else 0), shape["features"]


def traffic(g: Any, params: dict, memory: dict[str, Any], pos: int) -> dict[str, int]:
    """Bytes on the bus for the token at position `pos` over every decoder layer's caches (read: the
    earlier tokens' keys and values; write: the token's own), in whole bus words."""
    wb = memory["bus_bits"] // 8
    rd = wr = 0
    for n in kv_nodes(g, 0):
        r, w = bus_words(cache_shape(g, n, params[n.name].in_par, wb), pos, wb)
        rd, wr = rd + r, wr + w
    return {"read_bytes": rd * wb * g.layers, "write_bytes": wr * wb * g.layers,
            "bytes": (rd + wr) * wb * g.layers}


def stream_resources(g: Any, n: Any, par: int) -> tuple[int, int, tuple[int, int] | None]:
    """LUT, FF and the block RAM shape (width, depth: two read ports) of a node's stream module, after
    Yosys synth_ecp5 (2026-12-03): mase_kv_stream_k BW 40 (tiny-llama) 134 LUT4 / 16 FF, BW 24 (smollm2)
    109 / 23: a beat-wide 3-way mux and counters; mase_kv_stream_v (the token's F values, read for the
    writes and for the drain, and per lane a 3-way mux) LANES 8 x W 16, F 32: 1,441 LUT4 (LUT RAM
    included) / 29 FF; LANES 1, F 192: 285 / 61 + 2 DP16KD. The DMA channels' buffers are the DMA
    engine's, as the weight streams' (not in the top)."""
    sh = cache_shape(g, n, par, 64)
    if sh["kind"] == "k":
        return sh["width"] + 80, 24, None
    F, w = sh["features"], sh["width"]
    if F * w < 2048:  # LUT RAM, twice (two read ports)
        return 10 * par * w + 150 + 8 * math.ceil(F * w / 64), 64, None
    return 10 * par * w + 150, 64, (par * w, F // par)


def layer_kv_offchip(params: dict) -> bool:
    return any(getattr(p, "kv", "") == "offchip" for p in params.values())


def regions(g: Any, plan: Any, insts: dict, base_word: int) -> tuple[list[dict[str, Any]], int]:
    """The KV caches' regions of the memory (after the weights, from `base_word`): one per cache of a
    hardware layer, `banks` banks (the layers it computes) `bank_stride` words apart; the words used."""
    mem = plan.memory
    wb = mem["bus_bits"] // 8
    banks = plan.passes if plan.fold else 1
    lat = mem["latency_cycles"]
    out, base = [], base_word
    for name, inst in insts.items():
        kv = getattr(inst, "kv", None)
        if not kv:
            continue
        n = g.node(name)
        sh = cache_shape(g, n, plan.nodes[name].in_par, wb)
        words = banks * sh["bank_stride"]
        most = bus_words(sh, g.seq_len - 1, wb)[0]  # the longest read of a token (the cache nearly full)
        fifo = min(max(2 * lat + 4, most + 2), max(2 * lat + 4, int(mem.get("fifo_words", 512))))
        out.append({**sh, "layer": n.layer, "banks": banks, "tokens": g.seq_len, "base_word": base, "base_byte": base * wb, "words": words,
                    "write_port": kv["write"], "read_port": kv["read"], "fifo_words": fifo})
        base += words
    return out, base - base_word


LAYOUT = ("KV caches after the weights, one region per cache of a hardware layer (kv_regions), each `banks` "
          "banks (bank b: decoder layer h + b x hw.fold, the pass) bank_stride words apart. K: a row per "
          "token (row_stride words), the K stream's run_beats beats of beat_bytes bytes ({scale byte, PAR_D "
          "element codes}, lane 0 in the low bits) back to back from byte 0 of the row. V (transposed): a row "
          "per feature (row_stride words), value t of the row at byte t x elem_bytes (the V quantizer's input "
          "fixed-point value, zero bits above its width). Rows and tokens not yet written are never read")
