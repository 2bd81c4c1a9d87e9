"""Perplexity with the hardware's numerics: each window runs through the golden model of the
accelerator (mase.compiler.golden.run_graph on the dataflow graph captured for the window's length),
the host doing what it does in the deployed system: the token (+ position) embedding in, `lm_head`
on the final norm's output.

The golden model is what the generated RTL computes bit for bit (the simulation stage checks it):
every MX re-quantization of linear and attention-matmul outputs to `hw.linear_out`, the fixed-point
formats between the cores with their saturation, the integer non-linear cores. So the perplexity is
the accelerator's own, up to the float `lm_head` on the host. A window is one prompt of the
accelerator: the blocks of V (along tokens) and of the score rows span the whole window, as the
prefill datapath quantizes them (with hw.attention=causal the prefill design's numerics are causal: row t
from tokens <= t, the window being the design's T). With `causal` (eval.numerics=decode) the numerics are the KV-cache
decode design's (mase/golden/CONTRACT.md): token t of a window as if it were generated after the
tokens before it, with nothing of the later ones.

    >>> hardware_perplexity(model, ids, 512, 512, cfg.quant, cfg.hw)   # {"ppl", "nll", ..., "saturations"}
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from mase.report.progress import track

from .perplexity import windows


@torch.no_grad()
def lm_logits(model: torch.nn.Module, final: torch.Tensor) -> torch.Tensor:
    """The host's `lm_head` on the accelerator's output (final norm, (T, hidden) float)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else model.lm_head
    dtype = next(head.parameters()).dtype
    return head(final.to(dtype)).float()


@torch.no_grad()
def hardware_perplexity(model: torch.nn.Module, ids: torch.Tensor, window: int, stride: int, quant_cfg: Any,
                        hw: Any = None, description: str = "evaluating (hardware numerics)",
                        prefix: list[int] | None = None, causal: bool = False) -> dict[str, Any]:
    """exp(mean NLL) of ids[1:] as the accelerator computes them, window by window (as `perplexity`, with
    the same `prefix` before each window), plus `saturations`: the values clipped on every fixed-point
    stream over all windows."""
    from mase.compiler.generate import decode_graph, design_context
    from mase.compiler.golden import host_embeddings, output_float, run_graph, saturation_summary

    ids = ids.reshape(-1).to(torch.long)
    pre = torch.tensor(list(prefix or []), dtype=torch.long)
    graphs: dict[int, Any] = {}
    wq: dict = {}  # quantized weights, shared by the graphs of every window length
    sat: dict[str, list[int]] = {}
    total_nll, total_n, t0 = 0.0, 0, time.perf_counter()
    wins = windows(ids.numel(), window, stride)
    for begin, end, first in track(wins, description, total=len(wins)):
        inp = torch.cat([pre, ids[begin:end]])
        T = inp.numel()
        if T not in graphs:  # causal: a decode design's graph (its context in whole blocks; T tokens of it)
            graphs[T] = (decode_graph(model, quant_cfg, design_context(model, quant_cfg, T), hw) if causal
                         else _prefill_graph(model, quant_cfg, T, hw))
            graphs[T].__dict__["_wq"] = wq
        g = graphs[T]
        vals = run_graph(g, host_embeddings(model, inp), keep=set(g.outputs), sat=sat, causal=causal or g.decode)
        logits = lm_logits(model, output_float(g, vals))
        lo, hi = pre.numel() + first - begin - 1, T - 1
        total_nll += float(F.cross_entropy(logits[lo:hi], inp[lo + 1:hi + 1], reduction="sum"))
        total_n += hi - lo
    mean = total_nll / total_n
    return {"ppl": math.exp(mean), "nll": mean, "tokens": total_n, "seconds": time.perf_counter() - t0,
            "saturations": saturation_summary(sat)}


def final_norm_outputs(model: torch.nn.Module, ids: torch.Tensor, quant_cfg: Any, hw: Any = None) -> torch.Tensor:
    """The accelerator's output stream codes (T, hidden) for one prompt, as the evaluation computes them."""
    from mase.compiler.golden import host_embeddings, run_graph

    g = _prefill_graph(model, quant_cfg, ids.numel(), hw)
    return run_graph(g, host_embeddings(model, ids), keep=set(g.outputs), causal=g.decode)[g.outputs[0]].data


def _prefill_graph(model: torch.nn.Module, quant_cfg: Any, T: int, hw: Any = None):
    """The prefill design's graph for a prompt of T tokens, as the emit stage builds it: with
    hw.attention=causal the KV-cache datapath of T tokens (g.decode: run_graph's causal numerics)."""
    from mase.compiler.graph import capture
    from mase.compiler.params import causal_attention

    g = capture(model, quant_cfg, seq_len=T, hw=hw)
    g.decode = causal_attention(hw)
    return g
