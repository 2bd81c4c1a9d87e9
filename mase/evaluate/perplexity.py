"""Sliding-window perplexity on a fixed token sequence."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from mase.errors import MaseError
from mase.report.progress import track


def windows(n_ids: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first scored position) per window, so that ids[1:n_ids] are each scored once.

    A window is ids[begin:end] (at most `window` ids) and scores the ids at positions first..end-1,
    each predicted from the position before it; every window after the first advances by
    min(stride, window - 1) new ids and keeps the ids before them as context (at least one).
    """
    step = max(1, min(stride, window - 1))
    out, end = [], min(window, n_ids)
    out.append((0, end, 1))
    while end < n_ids:
        new_end = min(end + step, n_ids)
        begin = max(0, new_end - window)
        out.append((begin, new_end, end))
        end = new_end
    return out


@torch.no_grad()
def perplexity(model: torch.nn.Module, ids: torch.Tensor, window: int = 512, stride: int = 512,
               description: str = "evaluating", prefix: list[int] | None = None) -> dict[str, Any]:
    """exp(mean NLL) of ids[1:] given their prefixes, computed window by window.

    `prefix`: token ids put before every window (a model that expects its <bos>, mase.models.window_prefix),
    context only: the same tokens are scored. Returns {"ppl", "nll", "tokens", "seconds"}; `tokens` =
    len(ids) - 1 scored tokens.
    """
    ids = ids.reshape(-1).to(torch.long)
    pre = torch.tensor(list(prefix or []), dtype=torch.long)
    p = pre.numel()
    if ids.numel() < 2:
        raise MaseError("perplexity needs at least 2 tokens")
    max_pos = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if max_pos is not None and window + p > max_pos:
        raise MaseError(f"eval.window={window} exceeds the model's {max_pos} positions: lower eval.window")
    total_nll, total_n, t0 = 0.0, 0, time.perf_counter()
    wins = windows(ids.numel(), window, stride)
    for begin, end, first in track(wins, description, total=len(wins)):
        inp = torch.cat([pre, ids[begin:end]]).unsqueeze(0)
        logits = model(input_ids=inp, use_cache=False).logits[0].float()
        # position q predicts token q+1: score targets first..end-1 from logits first-1..end-2 (after the prefix)
        lo, hi = p + first - begin - 1, p + end - begin - 1
        nll = F.cross_entropy(logits[lo:hi], inp[0, lo + 1:hi + 1], reduction="sum")
        total_nll += float(nll)
        total_n += hi - lo
    mean = total_nll / total_n
    return {"ppl": math.exp(mean), "nll": mean, "tokens": total_n, "seconds": time.perf_counter() - t0}
