"""Zero-shot task accuracy by label likelihood (as the MX paper's search scores SST-2).

For each example the prompt (eval.task.prompt, `{text}` replaced by the example) is followed by each
label's word (eval.task.labels) after one space; the answer is the label whose word has the highest
summed log-likelihood given the prompt. No answer is generated and nothing is tuned on the examples.
With eval.task.content_free (e.g. ["N/A", "", "[MASK]"]), each label's score is taken relative to its
mean score after the prompt holding each content-free text instead of an example (contextual calibration,
Zhao et al. 2021, "Calibrate before use", who average over the same three), computed by the same model,
quantized or float: a small base model that says one label after any review (Gemma 3 270M: 198 of 200
"positive") is then scored on what the review changes, not on its prior. One content-free text is a
fragile anchor: every answer moves with its rounding noise (gemma3-270m mxint8 shifts the "N/A" prompt's
pos-neg log-odds by +0.32 nats while the reviews' own move by a median -0.02, and 42 of 200 answers flip).

    polarity: gensim's pang_lee_polarity.cor, 200 movie-review sentences, pos / neg (100 each)

Accuracy and its standard error (sqrt(p(1-p)/(n-1)), the sample standard error of the per-example
0/1 scores, as lm-evaluation-harness reports it) are in percent. Each sequence runs alone (batch 1):
padding would change the MX blocks that run along tokens (attention values). When every label word is
one token, one forward of the prompt scores all of them (the prompt alone, as a deployed model sees it).

    >>> task_accuracy(model, tokenizer, load_group("eval", "polarity").task)   # {"accuracy", "stderr", ...}
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F

from mase.errors import MaseError
from mase.models import ByteTokenizer, tokenize
from mase.report.progress import track

from .data import polarity_examples

# task name -> its examples [(text, label)]; the names are mase.config.validate.TASKS
EXAMPLES: dict[str, Callable[[], list[tuple[str, str]]]] = {"polarity": polarity_examples}


def examples(task: Any) -> list[tuple[str, str]]:
    """The task's examples; the first eval.task.examples of them, labels alternating (balanced)."""
    rows = EXAMPLES[str(task.name)]()
    missing = sorted({lab for _, lab in rows} - set(task.labels))
    if missing:
        raise MaseError(f"eval.task.labels has no word for label(s) {', '.join(missing)} of task {task.name}: "
                        f"add them (labels: {{{', '.join(sorted({lab for _, lab in rows}))}}})")
    n = int(task.examples or 0)
    if n and n < len(rows):  # round-robin over the labels, so a short run stays balanced
        by: dict[str, list] = {}
        for r in rows:
            by.setdefault(r[1], []).append(r)
        rows = [r for group in zip(*by.values()) for r in group][:n]
    return rows


def _context_ids(tokenizer: Any, text: str) -> torch.Tensor:
    """The prompt with the tokenizer's own leading special tokens (Gemma's <bos>), as the model was trained."""
    if isinstance(tokenizer, ByteTokenizer):
        return tokenize(tokenizer, text)
    return torch.tensor(tokenizer(text, add_special_tokens=True)["input_ids"], dtype=torch.long)


@torch.no_grad()
def _label_logprob(model: torch.nn.Module, ctx: torch.Tensor, cont: torch.Tensor) -> float:
    ids = torch.cat([ctx, cont]).unsqueeze(0)
    logits = model(input_ids=ids, use_cache=False).logits[0, ctx.numel() - 1:-1].float()
    return float(F.log_softmax(logits, dim=-1).gather(1, cont.unsqueeze(1)).sum())


@torch.no_grad()
def _next_logprobs(model: torch.nn.Module, ctx: torch.Tensor) -> torch.Tensor:
    # logits_to_keep=1: lm_head on the last position only (Gemma's 262k-word head costs more than its layers)
    out = model(input_ids=ctx.unsqueeze(0), use_cache=False, logits_to_keep=1)
    return F.log_softmax(out.logits[0, -1].float(), dim=-1)


def encode(tokenizer: Any, task: Any) -> tuple[list[tuple[torch.Tensor, str]], dict[str, torch.Tensor],
                                               list[torch.Tensor]]:
    """(prompt ids and gold label per example, label -> its word's ids, the content-free prompts' ids)."""
    rows = examples(task)
    words = {lab: tokenize(tokenizer, " " + str(w).strip()) for lab, w in task.labels.items()}
    if any(v.numel() == 0 for v in words.values()):
        raise MaseError(f"eval.task.labels: a label word has no tokens for this tokenizer ({dict(task.labels)})")
    prompt = str(task.prompt)
    free = getattr(task, "content_free", None) or []
    cf = [_context_ids(tokenizer, prompt.replace("{text}", str(t))) for t in free]
    return [(_context_ids(tokenizer, prompt.replace("{text}", text)), lab) for text, lab in rows], words, cf


def task_accuracy(model: torch.nn.Module, tokenizer: Any, task: Any, description: str = "task",
                  encoded: tuple | None = None) -> dict[str, Any]:
    """{"accuracy", "stderr" (percent), "n", "predictions" (label per example), "seconds"}."""
    items, words, cf = encoded if encoded is not None else encode(tokenizer, task)
    labels = list(words)
    t0, correct, preds = time.perf_counter(), 0, []
    single = torch.stack([words[lab][0] for lab in labels]) if all(w.numel() == 1 for w in words.values()) else None

    def score(ctx: torch.Tensor) -> list[float]:
        if single is not None:  # one-token words: one forward of the prompt scores them all
            return _next_logprobs(model, ctx)[single].tolist()
        return [_label_logprob(model, ctx, words[lab]) for lab in labels]

    priors = [score(c) for c in cf]
    prior = [sum(p[i] for p in priors) / len(priors) for i in range(len(labels))] if priors else [0.0] * len(labels)
    for ctx, gold in track(items, f"{description} ({task.name})", total=len(items)):
        scores = [s - b for s, b in zip(score(ctx), prior)]
        pred = labels[max(range(len(labels)), key=scores.__getitem__)]
        preds.append(pred)
        correct += pred == gold
    n = len(items)
    p = correct / n
    stderr = math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else float("nan")
    return {"accuracy": 100.0 * p, "stderr": 100.0 * stderr, "n": n, "predictions": preds,
            "seconds": time.perf_counter() - t0}
