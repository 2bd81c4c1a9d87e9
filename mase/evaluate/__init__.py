"""Accuracy of a (quantized) model: sliding-window perplexity on real text, against float.

    >>> from mase.evaluate import evaluate, perplexity, eval_tokens
    >>> evaluate(model, tokenizer, load_group("eval", "default"))   # ppl, ppl_float, delta, ...
    >>> evaluate(model, tokenizer, cfg.eval, numerics="hardware", quant_cfg=cfg.quant, hw=cfg.hw)

Numerics (`numerics` in the result, named in report.json):
- "quantized": the quantized PyTorch model (mase.quantize: fake-quantized MX operands, float32
  products, the non-linear ops quant.nonlinear selects);
- "hardware": the accelerator's golden model (mase.evaluate.hardware): every re-quantization, the
  fixed-point streams between the cores with their saturation, the integer non-linear cores; the
  default of runs that emit hardware (eval.numerics=auto). A window is one prompt of the prefill design;
- "decode": the same golden model in the numerics of the KV-cache decode design (the generate
  stage's; run_graph causal): every token scored as if the window were generated a token at a time.

eval.extra_datasets measures more texts the same way (report.json `ppl_datasets`); eval.task adds a
zero-shot task accuracy (mase.evaluate.task; eval=polarity).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

from mase.errors import MaseError
from mase.models import tokenize, window_prefix

from .data import load_text
from .hardware import hardware_perplexity
from .perplexity import perplexity, windows
from .task import encode, task_accuracy

log = logging.getLogger("mase.evaluate")
__all__ = ["eval_tokens", "evaluate", "hardware_perplexity", "load_text", "numerics_mode", "perplexity", "task_accuracy",
           "windows"]
NUMERICS = ("auto", "quantized", "hardware", "decode")


def numerics_mode(eval_cfg: Any, stages: list[str] | None) -> str:
    """eval.numerics, with auto resolved: "hardware" when the run emits hardware, else "quantized"."""
    mode = str(getattr(eval_cfg, "numerics", None) or "auto")
    if mode not in NUMERICS:
        raise MaseError(f"eval.numerics={mode!r}: choose one of {', '.join(NUMERICS)}")
    if mode == "auto":
        return "hardware" if "emit" in (stages or []) else "quantized"
    return mode


def eval_tokens(tokenizer: Any, dataset: str, tokens: int) -> tuple[torch.Tensor, str]:
    """The first tokens+1 ids of the dataset's text (tokens scored), and the dataset's name."""
    text, used = load_text(dataset, max_chars=max(200_000, tokens * 12))
    ids = tokenize(tokenizer, text)
    if ids.numel() < tokens + 1:
        raise MaseError(f"dataset {used} has only {ids.numel() - 1} tokens for this tokenizer: lower eval.tokens")
    return ids[: tokens + 1], used


def evaluate(model: torch.nn.Module, tokenizer: Any, eval_cfg: Any, numerics: str = "quantized", quant_cfg: Any = None,
             hw: Any = None) -> dict[str, Any]:
    """Perplexity of `model` as it is (numerics "quantized") or as its accelerator computes it
    ("hardware": needs `quant_cfg`, and `hw` for hw.linear_out), and (eval.float_baseline) of the
    same model in float; the same on each eval.extra_datasets text (`ppl_datasets`), and the zero-shot
    accuracy of eval.task (always with the quantized PyTorch model: the golden model is too slow for
    hundreds of prompts)."""
    from mase.quantize import reset_counters

    if isinstance(eval_cfg, str):
        from mase.config import load_group

        eval_cfg = load_group("eval", eval_cfg)
    from mase.config.validate import validate_eval

    validate_eval(eval_cfg)
    quantized = getattr(model, "mase_plan", None) is not None
    if quantized:
        reset_counters(model)
    out = _perplexity(model, tokenizer, eval_cfg, eval_cfg.dataset, numerics, quant_cfg, hw, quantized)
    if getattr(model, "mase_calibration", None):
        out["calibration"] = model.mase_calibration  # disjoint from the scored tokens
    extra = list(getattr(eval_cfg, "extra_datasets", None) or [])
    if extra:  # every text side by side (the first is the one of `ppl`)
        per = {out["dataset"]: _ppl_summary(out)}
        for d in extra:
            r = _perplexity(model, tokenizer, eval_cfg, d, numerics, quant_cfg, hw, quantized)
            per.setdefault(r["dataset"], _ppl_summary(r))  # `auto` may resolve to the main text
        out["ppl_datasets"] = per
    if getattr(eval_cfg, "task", None) is not None:
        out.update(_task(model, tokenizer, eval_cfg.task, quantized, bool(eval_cfg.float_baseline)))
    return out


def _ppl_summary(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("ppl", "ppl_float", "delta_ppl_pct", "tokens", "numerics") if k in r}


def _perplexity(model: torch.nn.Module, tokenizer: Any, eval_cfg: Any, dataset: str, numerics: str, quant_cfg: Any,
                hw: Any, quantized: bool) -> dict[str, Any]:
    """Perplexity of one text (eval.tokens of it, eval.window / stride), and of the float model."""
    from mase.quantize import quantization_disabled

    ids, used = eval_tokens(tokenizer, dataset, eval_cfg.tokens)
    pre = window_prefix(tokenizer)  # Gemma's <bos> before every window (without it its perplexity triples)
    out: dict[str, Any] = {"dataset": used, "window": eval_cfg.window, "stride": eval_cfg.stride,
                           "numerics": numerics, "scored_tokens": [0, int(ids.numel())]}
    if pre:
        out["window_prefix"] = pre
    if numerics in ("hardware", "decode"):
        if quant_cfg is None:
            raise MaseError(f"evaluate(numerics={numerics!r}) needs the quant config (quant_cfg=cfg.quant)")
        hw_tokens = int(getattr(eval_cfg, "hardware_tokens", 0) or 0)
        if 0 < hw_tokens < ids.numel() - 1:  # the golden model is slow: its own share of the tokens
            ids = ids[: hw_tokens + 1]
            out["scored_tokens"] = [0, int(ids.numel())]
        q = hardware_perplexity(model, ids, eval_cfg.window, eval_cfg.stride, quant_cfg, hw, prefix=pre,
                                causal=numerics == "decode",
                                description=f"evaluating ({numerics} numerics)")
        out["saturations"] = q["saturations"]
        if quantized:  # the same tokens through the quantized PyTorch model: what the hardware adds
            pq = perplexity(model, ids, eval_cfg.window, eval_cfg.stride, "evaluating quantized", pre)
            out["ppl_quantized"] = pq["ppl"]
        quantized = True  # the float baseline below is the model without the hardware
    elif numerics == "quantized":
        q = perplexity(model, ids, eval_cfg.window, eval_cfg.stride,
                       "evaluating quantized" if quantized else "evaluating", pre)
    else:
        raise MaseError(f"evaluate: numerics={numerics!r}: choose quantized, hardware or decode")
    out.update(ppl=q["ppl"], nll=q["nll"], tokens=q["tokens"], seconds=q["seconds"])
    if quantized and eval_cfg.float_baseline:
        with quantization_disabled(model):
            f = perplexity(model, ids, eval_cfg.window, eval_cfg.stride, "evaluating float", pre)
        out.update(ppl_float=f["ppl"], nll_float=f["nll"], seconds_float=f["seconds"])
    elif not quantized:
        out.update(ppl_float=q["ppl"], nll_float=q["nll"], seconds_float=q["seconds"])
    if "ppl_float" in out:
        out["delta_ppl_pct"] = 100.0 * (out["ppl"] - out["ppl_float"]) / out["ppl_float"]
    log.info("perplexity %.4f (%s numerics; float %s) on %d %s tokens", out["ppl"], numerics, out.get("ppl_float"),
             out["tokens"], used)
    return out


def paired_change(gold: list[str], before: list[str], after: list[str]) -> dict[str, Any]:
    """What quantization changed, answer by answer: answers it made right (fixed) and wrong (broken),
    and the exact two-sided McNemar p-value of that split (binomial, p=1/2 over the changed answers): a
    small p says the accuracy change is more than the usual reshuffle of answers near the boundary."""
    fixed = sum(b != g and a == g for g, b, a in zip(gold, before, after))
    broken = sum(b == g and a != g for g, b, a in zip(gold, before, after))
    n, k = fixed + broken, min(fixed, broken)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0
    return {"task_fixed": fixed, "task_broken": broken, "task_mcnemar_p": p}


def _task(model: torch.nn.Module, tokenizer: Any, task: Any, quantized: bool, float_baseline: bool) -> dict[str, Any]:
    """report.json's task keys: accuracy (percent) of the model and of its float twin on the same prompts."""
    from mase.quantize import quantization_disabled

    enc = encode(tokenizer, task)
    q = task_accuracy(model, tokenizer, task, "task quantized" if quantized else "task", enc)
    out: dict[str, Any] = {"task": str(task.name), "task_accuracy": q["accuracy"], "task_accuracy_stderr": q["stderr"],
                           "task_examples": q["n"], "task_numerics": "quantized", "seconds_task": q["seconds"],
                           "task_predictions": q["predictions"]}
    if quantized and float_baseline:
        with quantization_disabled(model):
            f = task_accuracy(model, tokenizer, task, "task float", enc)
        out.update(task_accuracy_float=f["accuracy"], task_accuracy_float_stderr=f["stderr"],
                   # the share of examples answered as the float model answers them (a paired view)
                   task_agreement=100.0 * sum(a == b for a, b in zip(q["predictions"], f["predictions"])) / q["n"],
                   **paired_change([g for _, g in enc[0]], f["predictions"], q["predictions"]))
    elif not quantized:
        out.update(task_accuracy_float=q["accuracy"], task_accuracy_float_stderr=q["stderr"])
    if "task_accuracy_float" in out:
        out["delta_task_accuracy"] = out["task_accuracy"] - out["task_accuracy_float"]  # percentage points
    log.info("%s accuracy %.1f%% +- %.1f (float %s) on %d examples", task.name, q["accuracy"], q["stderr"],
             out.get("task_accuracy_float"), q["n"])
    return out
