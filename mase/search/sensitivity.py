"""The cheap per-slot sensitivity pass that seeds and prunes a search.

Every slot at `search.high` (mxint8 in blocks of 32) is the reference; then one slot at a time takes
each candidate choice, everything else staying high, and the cost is the mean KL divergence of the
next-token distributions from the reference, on `search.sensitivity.tokens` calibration tokens: the
tokens right after the evaluated text (mase.quantize.calibrate.calibration_ids), never the scored ones.
One quantized model serves every probe: a probe swaps the slot's weight format in place.

When the searched config rounds weights by GPTQ (quant.weight_rounding=gptq, as the trials do), a probe
of a choice of at most search.sensitivity.gptq_max_bits rounds the slot's weights by GPTQ too, with
Hessians taken once from the all-high model on GPTQ's calibration text: nearest rounding would price
4-bit slots at a loss GPTQ mostly removes, and rank the formats differently (mxfp4 ahead of mxint4
for gate/up_proj on smollm2-135m). Wider choices are probed with nearest rounding (GPTQ gains little
there, and each GPTQ probe costs a column loop over the slot's weights).

That is search.sensitivity.method=kl: one forward pass per slot and choice, too many for
granularity=layer (210 slots on smollm2-135m). method=fisher prices a choice per layer without a forward
pass: the second-order (Fisher) estimate of the loss it adds, from each layer's inputs and the loss's
gradients with respect to its outputs, token by token (one backward pass of the float model per window of search.sensitivity.fisher_tokens
calibration tokens, from the same place); a slot's cost is the sum over its layers, so every granularity
costs the same. method=auto: kl up to KL_PROBES probes, else fisher.

From the table:
- pruning: a slot's choice is dropped when another of its choices costs no more bits and no more KL
  (one of them strictly less): with costs adding up across slots, it can never be the better pick;
  and when its KL alone exceeds HOPELESS times the first seed's total (e.g. mxint2 for down_proj);
- seeds: a greedy descent from all-high, each step taking the move with the least KL added per bit
  saved, stopped at the budget (and at `seeds - 1` lower budgets, 0.25 bit apart).
The float model's perplexity on the evaluation text is measured here once: the target the search
report counts trials against. Everything lands in <sweep dir>/search/sensitivity.json.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from . import space as sp
from .sampling import param

log = logging.getLogger("mase")
SENSITIVITY_FILE = "search/sensitivity.json"
# a choice whose own KL exceeds this many times the greedy seed's total at the budget is dropped: with
# costs that add up, any config holding it is worse than the seed (the margin allows for interactions)
HOPELESS = 1.5
TABLE_ROWS = 30  # slots printed (the costliest); sensitivity.json has every one
KL_PROBES = 150  # method=auto: the KL pass up to this many slot x choice probes (type: 7 x 18 = 126)


def load_or_run(cfg: Any, sweep: Path) -> dict[str, Any]:
    path = sweep / SENSITIVITY_FILE
    if path.is_file():
        data = json.loads(path.read_text())
        if data.get("key") == _key(cfg):
            return data
    data = run(cfg, sweep)
    from mase.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=1))
    return data


def _key(cfg: Any) -> dict[str, Any]:
    from omegaconf import OmegaConf

    s = cfg.search
    return {"model": cfg.model.name, "granularity": s.granularity, "groups": int(s.groups),
            "choices": sp.all_choices(s), "high": s.high, "tokens": int(s.sensitivity.tokens),
            "budget": s.budget, "seeds": int(s.sensitivity.seeds), "prune": bool(s.sensitivity.prune),
            "fisher_tokens": int(s.sensitivity.fisher_tokens),
            "gptq_max_bits": float(s.sensitivity.gptq_max_bits),
            "method": str(s.sensitivity.method),
            "quant": OmegaConf.to_container(cfg.quant, resolve=True), "eval": OmegaConf.to_container(cfg.eval, resolve=True)}


def _swap(modules: list[Any], choice: str, gptq: "_GPTQProbe | None" = None) -> list[tuple[Any, Any, Any]]:
    """Set the weight format (and block size) of MXLinear modules, their weights rounded by GPTQ when
    `gptq` is given, else to nearest; returns what restores them."""
    from mase.config.validate import check_format

    fmt, block = sp.parse_choice(choice)
    w = check_format(fmt, f"search choice {choice}", block)
    rounded = _rounded(modules, w, gptq)
    saved = []
    for m in modules:
        saved.append((m, m.spec, m.weight_q))
        act = check_format(m.spec.act.name, "act", block)
        m.spec = replace(m.spec, weight=w, act=act, block_size=block)
        m.weight_q = rounded[m]
    return saved


def _rounded(modules: list[Any], fmt: Any, gptq: "_GPTQProbe | None") -> dict[Any, torch.Tensor]:
    """The modules' weights on fmt's grid: by GPTQ when `gptq` is given, else to nearest."""
    if gptq is not None:
        return gptq.round(modules, fmt)
    with torch.no_grad():
        return {m: fmt.fake_quantize(m.weight.detach(), axis=-1) for m in modules}


class _GPTQProbe:
    """GPTQ rounding for probes: each module's input Hessian, accumulated once on the all-high model
    (on quant.gptq's calibration text; also the H of method=fisher)."""

    def __init__(self, model: Any, modules: list[Any], tokenizer: Any, quant: Any, eval_cfg: Any):
        from mase.quantize.gptq import _Hessian, calibration_text_ids, options

        self.opts = options(quant.gptq)
        self.factors: dict[tuple, Any] = {}  # (layers, block size) -> HessianFactor: one per block size
        ids, self.calibration = calibration_text_ids(tokenizer, quant, eval_cfg)
        shared: dict = {}
        self.hess = {m: _Hessian(m, self.opts.sink_weight, shared) for m in modules}
        handles = [m.register_forward_pre_hook(h) for m, h in self.hess.items()]
        window = int(eval_cfg.window)
        try:
            with torch.no_grad():
                for start in range(0, ids.numel(), window):
                    model(input_ids=ids[start:start + window][None], use_cache=False)
        finally:
            for h in handles:
                h.remove()

    def round(self, modules: list[Any], fmt: Any) -> dict[Any, torch.Tensor]:
        """The modules' weights rounded to fmt by GPTQ, the layers of one shape in one batched call."""
        from mase.quantize.gptq import gptq_mx, hessian_factor

        by_shape: dict[tuple[int, ...], list[Any]] = {}
        for m in modules:
            by_shape.setdefault(tuple(m.weight.shape), []).append(m)
        out = {}
        with torch.no_grad():
            for group in by_shape.values():
                H = torch.stack([self.hess[m].H / max(self.hess[m].n, 1.0) for m in group])
                key = (tuple(id(m) for m in group), fmt.block_size)
                if key not in self.factors:
                    self.factors[key] = hessian_factor(H, fmt.block_size, self.opts)
                q = gptq_mx(torch.stack([m.weight.detach() for m in group]), H, fmt, self.opts, self.factors[key])
                out.update(zip(group, q))
        return out


def _output_fisher(model: Any, modules: list[Any], ids: torch.Tensor, window: int
                   ) -> dict[Any, tuple[torch.Tensor, torch.Tensor]]:
    """Per module, its inputs X (tokens, in) and the gradients G (tokens, out) of the summed next-token
    loss of each window with respect to its outputs, from one forward and backward pass of the float
    model per window of ids (the quantized one rounds, and rounding passes no gradient). Float32: the
    costs are sums of squares, and X of 2048 tokens over smollm2's 210 layers is 1.2 GB as it is."""
    from mase.quantize import quantization_disabled

    xs: dict[Any, list[torch.Tensor]] = {m: [] for m in modules}
    gs: dict[Any, list[torch.Tensor]] = {m: [] for m in modules}

    def hook(m):
        def keep(g):
            gs[m].append(g.detach().reshape(-1, g.shape[-1]).float())  # returns None: g unchanged

        def grab(mod, args, out):
            xs[m].append(args[0].detach().reshape(-1, args[0].shape[-1]).float())
            out.register_hook(keep)
        return grab

    # Only the gradients at the layers' outputs are wanted: the graph starts at the embeddings' output
    # and no parameter asks for its gradient (the tied lm_head's alone was a 49152 x 576 product a window).
    params = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in params:
        p.requires_grad_(False)
    handles = [m.register_forward_hook(hook(m)) for m in modules]
    handles.append(model.get_input_embeddings().register_forward_hook(lambda mod, args, out: out.requires_grad_(True)))
    try:
        with quantization_disabled(model), torch.enable_grad():
            for start in range(0, ids.numel() - 1, window):
                w_ids = ids[start:start + window]
                if w_ids.numel() < 2:
                    break
                logits = model(w_ids.view(1, -1)).logits.float()[0, :-1]
                torch.nn.functional.cross_entropy(logits, w_ids[1:], reduction="sum").backward()
    finally:
        for h in handles:
            h.remove()
        for p, req in params:
            p.requires_grad_(req)
    return {m: (torch.cat(xs[m]), torch.cat(gs[m])) for m in modules}


def fisher_costs(space: sp.Space, by_name: dict[str, Any], probe: "_GPTQProbe | None",
                 fisher: dict[Any, tuple[torch.Tensor, torch.Tensor]], gptq_max: float) -> dict[str, dict[str, float]]:
    """method=fisher: per slot and choice, the sum over the slot's layers of the second-order estimate
    of the mean loss added, 1/(2n) sum_t sum_j g_tj^2 dy_tj^2 (g: the gradient of the window's summed loss,
    dy = x_t dW^T, n tokens; the Fisher approximation of each token's loss Hessian, token by token, so the
    attention sink's massive activations are weighted by their own small gradients). Each choice rounds all layers
    of one shape in one batched call (GPTQ with `probe` up to gptq_max bits)."""
    from mase.config.validate import check_format

    mods = [by_name[n] for sl in space.slots.values() for n in sl.layers]
    per_layer: dict[Any, dict[str, float]] = {m: {} for m in mods}
    for choice in space.choices:
        fmt, block = sp.parse_choice(choice)
        w = check_format(fmt, f"search choice {choice}", block)
        rounded = _rounded(mods, w, probe if sp.choice_bits(choice) <= gptq_max else None)
        for m in mods:
            x, g = fisher[m]
            dy = x @ (m.weight.detach().float() - rounded[m].float()).T  # (tokens, out)
            per_layer[m][choice] = 0.5 / g.shape[0] * float((g * dy).pow(2).sum(dtype=torch.float64))
    return {sl.name: {c: sum(per_layer[by_name[n]][c] for n in sl.layers) for c in space.choices}
            for sl in space.slots.values()}


def _restore(saved: list[tuple[Any, Any, Any]]) -> None:
    for m, spec, wq in saved:
        m.spec, m.weight_q = spec, wq


@torch.no_grad()
def _logprobs(model: Any, ids: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(model(ids.view(1, -1)).logits.float()[0], dim=-1)


def run(cfg: Any, sweep: Path | None = None) -> dict[str, Any]:
    from mase.evaluate import evaluate
    from mase.models import load_model
    from mase.quantize import quantize_model
    from mase.quantize.calibrate import calibration_ids
    from mase.report.tables import make_console

    t0 = time.perf_counter()
    s = cfg.search
    model, tok = load_model(cfg.model)
    space = sp.space_for(cfg, sweep, model)
    ev = evaluate(model, tok, cfg.eval)  # the float model: the target's reference
    ppl_float = float(ev["ppl"])
    t_float = time.perf_counter() - t0
    from omegaconf import OmegaConf

    from mase.config.schema import QuantConfig

    from .trial import with_overrides

    quant = OmegaConf.merge(OmegaConf.structured(QuantConfig), OmegaConf.to_container(cfg.quant, resolve=True))

    with_overrides(quant, sp.overrides(space, {k: s.high for k in space.slots}))
    use_gptq = quant.weight_rounding == "gptq"
    quant.weight_rounding = "nearest"  # the all-high reference: GPTQ probes round their own slot only
    quantize_model(model, quant, cfg.model.name)
    by_name = dict(model.named_modules())
    method = str(s.sensitivity.method)
    if method == "auto":
        method = "kl" if len(space.slots) * len(space.choices) <= KL_PROBES else "fisher"
    window = int(cfg.eval.window)
    ids, where = calibration_ids(tok, cfg.eval, int(s.sensitivity.fisher_tokens if method == "fisher"
                                                   else s.sensitivity.tokens))
    if method == "kl":  # one window: every probe is a forward pass over it
        ids = ids[:window]
        ref = _logprobs(model, ids)
        p_ref = ref.exp()
    mods = [by_name[n] for sl in space.slots.values() for n in sl.layers]
    gptq = None
    if use_gptq:
        t1 = time.perf_counter()
        gptq = _GPTQProbe(model, mods, tok, quant, cfg.eval)
        log.info("sensitivity: Hessians of %d layers in %.1f s", len(gptq.hess), time.perf_counter() - t1)
    gptq_max = float(s.sensitivity.gptq_max_bits)
    cost: dict[str, dict[str, float]] = {}
    if method == "fisher":
        cost = fisher_costs(space, by_name, gptq, _output_fisher(model, mods, ids, window), gptq_max)
    for slot in space.slots.values() if method == "kl" else ():
        slot_mods = [by_name[n] for n in slot.layers]
        cost[slot.name] = {}
        for choice in space.choices:
            saved = _swap(slot_mods, choice, gptq if use_gptq and sp.choice_bits(choice) <= gptq_max else None)
            try:
                kl = (p_ref * (ref - _logprobs(model, ids))).sum(-1).mean().item()
            finally:
                _restore(saved)
            cost[slot.name][choice] = max(0.0, kl)
    allowed = prune(space, cost) if s.sensitivity.prune else {k: list(space.choices) for k in space.slots}
    budget = float(s.budget) if s.budget is not None else 4.5
    seeds, seed_rows = [], []
    for i in range(int(s.sensitivity.seeds)):
        picks = greedy(space, cost, allowed, budget - 0.25 * i, s.high)
        if picks is None:
            break
        params = {param(k): v for k, v in picks.items()}
        if params not in seeds:
            seeds.append(params)
            seed_rows.append({"budget": budget - 0.25 * i, "avg_weight_bits": sp.avg_weight_bits(space, picks, s.high),
                              "kl": sum(cost[k][v] for k, v in picks.items())})
    if s.sensitivity.prune and seed_rows:  # hopeless: alone already costs more than the whole seed at budget
        limit = HOPELESS * seed_rows[0]["kl"]
        for slot, keep in allowed.items():
            allowed[slot] = [c for c in keep if cost[slot][c] <= limit] or [min(keep, key=lambda c: cost[slot][c])]
    for params in seeds:  # a seed's choices stay in the space whatever the pruning
        for key, v in params.items():
            slot = key.rsplit(".", 1)[-1]
            if v not in allowed[slot]:
                allowed[slot].append(v)
    data = {"key": _key(cfg), "ppl_float": ppl_float, "eval": {"dataset": ev["dataset"], "tokens": ev["tokens"]},
            "calibration": {**where, "tokens_used": int(ids.numel())}, "kl": cost,
            "method": method,
            "rounding": {"method": "gptq" if use_gptq else "nearest", "gptq_max_bits": gptq_max if use_gptq else None,
                         "gptq_calibration": gptq.calibration if gptq else None}, "allowed": allowed,
            "seeds": seeds, "seed_stats": seed_rows,
            "pruned": sum(len(space.choices) - len(v) for v in allowed.values()),
            "seconds": {"float_eval": t_float, "total": time.perf_counter() - t0}}
    make_console().print(table(data, space))
    log.info("sensitivity pass: %d slots x %d choices in %.1f s (float ppl %.3f); %d choices pruned, %d seeds",
             len(space.slots), len(space.choices), data["seconds"]["total"], ppl_float, data["pruned"], len(seeds))
    return data


def prune(space: sp.Space, cost: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    out = {}
    for slot, row in cost.items():
        keep = []
        for c in space.choices:
            b, k = sp.choice_bits(c), row[c]
            dominated = any(sp.choice_bits(o) <= b and row[o] <= k and (sp.choice_bits(o) < b or row[o] < k)
                            for o in space.choices if o != c)
            if not dominated:
                keep.append(c)
        out[slot] = keep
    return out


def greedy(space: sp.Space, cost: dict[str, dict[str, float]], allowed: dict[str, list[str]], budget: float,
           high: str, start: dict[str, str] | None = None) -> dict[str, str] | None:
    """Lower the slot whose move adds the least KL per weight bit saved until the average fits the
    budget, from `start` (default: every slot at its cheapest choice); None when even the cheapest
    choices do not fit."""
    picks = dict(start) if start else {k: min(allowed[k], key=lambda c: (cost[k][c], -sp.choice_bits(c)))
                                       for k in space.slots}
    while sp.avg_weight_bits(space, picks, high) > budget + 1e-9:
        best = None
        for k, slot in space.slots.items():
            b0, k0 = sp.choice_bits(picks[k]), cost[k][picks[k]]
            for c in allowed[k]:
                saved = (b0 - sp.choice_bits(c)) * slot.numel
                if saved > 0:
                    rate = (cost[k][c] - k0) / saved
                    if best is None or rate < best[0]:
                        best = (rate, k, c)
        if best is None:
            return None
        picks[best[1]] = best[2]
    return picks


def table(data: dict[str, Any], space: sp.Space):
    from rich.table import Table

    rnd = data.get("rounding") or {}
    how = (f", GPTQ up to {rnd['gptq_max_bits']:g} bits" if rnd.get("method") == "gptq" else "")
    what = ("Fisher-weighted output error (nats/token, estimated)" if data.get("method") == "fisher"
            else "KL (nats/token)")
    t = Table(title=f"sensitivity: {what} of one slot lowered, the rest at {data['key']['high']}{how}",
              title_justify="left")
    t.add_column("slot")
    for c in space.choices:
        t.add_column(c.replace("_b", "/"), justify="right")
    rows = list(data["kl"].items())
    if len(rows) > TABLE_ROWS:  # granularity=layer: the costliest slots (summed over choices), the rest in the file
        rows = sorted(rows, key=lambda kv: -sum(kv[1].values()))[:TABLE_ROWS]
    for slot, row in rows:
        t.add_row(slot, *[f"{row[c]:.4g}" if c in data["allowed"][slot] else f"[dim]{row[c]:.4g}[/dim]"
                          for c in space.choices])
    more = len(data["kl"]) - len(rows)
    t.caption = (f"dim: pruned (another choice has no more bits and no more cost, or hopeless); float ppl {data['ppl_float']:.3f}; "
                 f"{len(data['seeds'])} greedy seeds; calibration tokens {data['calibration']['tokens']}"
                 + (f"; the {len(rows)} costliest of {len(data['kl'])} slots ({SENSITIVITY_FILE} has all)" if more else ""))
    return t


def repair(sweep: Path | None, space: sp.Space, picks: dict[str, str], budget: float, high: str) -> dict[str, str] | None:
    """An over-budget trial's picks lowered to the budget by the greedy rule, on the sweep's sensitivity
    table (any choice of the space); None without a table."""
    path = Path(sweep) / SENSITIVITY_FILE if sweep else None
    if not path or not path.is_file():
        return None
    cost = json.loads(path.read_text())["kl"]
    if set(cost) != set(space.slots):
        return None
    return greedy(space, cost, {k: list(space.choices) for k in space.slots}, budget, high, start=picks)
