"""GPTQ weight rounding for MX formats (quant.weight_rounding=gptq).

Nearest rounding quantizes each weight on its own. GPTQ (Frantar et al., arXiv 2210.17323) rounds the
input columns of a linear layer one at a time and spreads each column's rounding error onto the
columns not yet rounded, weighted by the inverse Hessian of the layer's output error, H = X^T X over
calibration inputs X. For MX formats the columns come in blocks of k sharing one E8M0 scale per row:
the block's exponent is fixed before its columns are rounded (from the weights as updated so far,
or from the original ones), and each column is rounded on that fixed grid.

The result is written back as the layer's weight (MXLinear.set_weight): values already on the MX
grid, so the MX quantizer returns them unchanged (asserted), and the compiler, which re-quantizes
every module's weight, emits exactly these. The float weights stay for the float baseline.

Layers are done in model order, decoder layer by decoder layer, on the calibration tokens as the
quantized model computes them (the layers before already compensated).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import torch
from torch import nn

from mase.errors import MaseError
from mase.formats.bits import exp2i, floor_log2
from mase.formats.elements import IntElement
from mase.formats.mx import MXFormat

from .modules import MXLinear

log = logging.getLogger("mase.quantize")


@dataclass(frozen=True)
class GPTQOptions:
    damp: float = 0.0001  # added to H's diagonal, times its mean (quant.gptq.damp)
    scale_from: str = "updated"  # block exponent from the weights as updated so far | "original"
    exp_search: bool = False  # per block and row: the better of exponents e and e-1 (H-weighted error)
    act_order: bool = False  # blocks (and columns inside a block) by decreasing H diagonal
    sink_weight: float = 1.0  # weight in H of each window's first token (the attention sink; config default 128)
    skip: tuple[str, ...] = ()  # layer name patterns kept at nearest rounding
    sequential: bool = False  # within a decoder layer, groups of linears fed one input in call order, each
    # group's Hessian taken after the groups before it were compensated (o_proj sees GPTQ'd q/k/v)
    asym: float = 0.0  # weight of the float model's outputs in GPTQ's target (asymmetric calibration)
    asym_damp: float = 0.1  # the asymmetric correction's damping, times H's median diagonal


def _round_block(w: torch.Tensor, exp: torch.Tensor, fmt: MXFormat) -> torch.Tensor:
    """w (rows, c) rounded on the grid of exponents exp (rows,): element grid times 2**exp."""
    s = exp2i(exp).unsqueeze(-1)
    return fmt.element.round(w * exp2i(-exp).unsqueeze(-1)) * s


def _column_rounder(exp: torch.Tensor, fmt: MXFormat):
    """col -> col rounded on the rows' grids (exponents exp); integer elements in three operations
    (the same values as fmt.element.round: RNE, symmetric saturation, no -0), the column loop's cost."""
    el = fmt.element
    if isinstance(el, IntElement):
        step = exp2i(exp + el.lsb_exp)  # exact: 2**(e + lsb)
        inv = exp2i(-(exp + el.lsb_exp))
        m = float(el.max_code)
        return lambda col: torch.round(col * inv).clamp_(-m, m).mul_(step).add_(0.0)
    scale, inv = exp2i(exp), exp2i(-exp)
    return lambda col: el.round(col * inv) * scale


def block_exponent(w: torch.Tensor, fmt: MXFormat) -> torch.Tensor:
    """The MX quantizer's shared exponent of each row of block w (rows, c) (OCP: floor(log2 amax) - emax)."""
    amax = w.abs().amax(dim=-1)
    exp = (floor_log2(amax) - fmt.element.emax).clamp(-127, 127)
    return torch.where(amax == 0, torch.full_like(exp, -127), exp)


def _search_exponent(w: torch.Tensor, d: torch.Tensor, fmt: MXFormat) -> torch.Tensor:
    """Per row, e or e-1 (finer grid, the largest elements clipped), whichever rounds w with the
    smaller error weighted by d (the H diagonal of the block's columns)."""
    e0 = block_exponent(w, fmt)
    best, best_err = e0, None
    d = d.unsqueeze(-2)  # (..., 1, c): the same column weights for every row
    for e in (e0, (e0 - 1).clamp(min=-127)):
        err = ((w - _round_block(w, e, fmt)) ** 2 * d).sum(-1)
        if best_err is None:
            best_err = err
        else:
            best = torch.where(err < best_err, e, best)
            best_err = torch.minimum(err, best_err)
    return best


def _inverse_cholesky(H: torch.Tensor, damp: float) -> torch.Tensor:
    """Upper Cholesky factor of (H + damp * mean(diag H) * I)^-1, in float64."""
    H = H.double().clone()
    dead = torch.diag(H) == 0  # inputs never seen: plain rounding, no coupling
    H[dead, :] = 0
    H[:, dead] = 0
    H[dead, dead] = 1
    n = H.shape[0]
    d = float(torch.diag(H).mean()) * damp
    for _ in range(6):  # raise the damping until H is positive definite
        try:
            L = torch.linalg.cholesky(H + d * torch.eye(n, dtype=H.dtype))
            Hinv = torch.cholesky_inverse(L)
            return torch.linalg.cholesky(Hinv, upper=True)
        except torch.linalg.LinAlgError:
            d = max(d * 10, 1e-8)
    raise MaseError("GPTQ: the calibration Hessian is singular even with damping: raise quant.gptq.damp")


def _order(diag: torch.Tensor, n: int, k: int, act_order: bool) -> tuple[torch.Tensor, list[int]]:
    """The column order (blocks stay contiguous: a permutation of whole blocks, then of columns inside
    each block, by decreasing H diagonal with act_order) and the block sizes in that order."""
    blocks = [list(range(b, min(b + k, n))) for b in range(0, n, k)]
    if act_order:
        blocks.sort(key=lambda cols: -float(diag[cols].sum()))
        blocks = [sorted(cols, key=lambda c: -float(diag[c])) for cols in blocks]
    return torch.tensor([c for cols in blocks for c in cols]), [len(cols) for cols in blocks]


@dataclass(frozen=True)
class HessianFactor:
    """What GPTQ takes from the Hessians of L layers for one block size: the column order, the block
    sizes in that order, the H diagonal in that order and the upper Cholesky factor of H^-1 (damped).
    It does not depend on the element format, so the sensitivity pass computes it once per block size
    for all the formats it probes (the inverse was 60% of that pass's GPTQ time)."""

    perm: torch.Tensor  # (L, n)
    sizes: list[int]
    diag: torch.Tensor  # (L, n), permuted
    U: torch.Tensor  # (L, n, n) float32


def hessian_factor(H: torch.Tensor, k: int, opts: GPTQOptions) -> HessianFactor | None:
    """H (L, in, in) factored for blocks of k; None when the layers' block sizes fall in different
    orders (a short last block sorted to different places: gptq_mx then goes layer by layer)."""
    L, n = H.shape[0], H.shape[-1]
    diag = torch.diagonal(H, dim1=-2, dim2=-1).float()
    orders = [_order(diag[i], n, k, opts.act_order) for i in range(L)]
    sizes = orders[0][1]
    if any(o[1] != sizes for o in orders):
        return None
    perm = torch.stack([o[0] for o in orders])  # (L, n)
    if opts.act_order:
        H = torch.stack([H[i][perm[i]][:, perm[i]] for i in range(L)])
        diag = torch.gather(diag, -1, perm)
    U = torch.stack([_inverse_cholesky(H[i], opts.damp) for i in range(L)]).float()
    return HessianFactor(perm, sizes, diag, U)


def gptq_mx(w: torch.Tensor, H: torch.Tensor | None, fmt: MXFormat, opts: GPTQOptions = GPTQOptions(),
            factor: HessianFactor | None = None) -> torch.Tensor:
    """The weights w (out, in) rounded to `fmt` (blocks of fmt.block_size along in) by GPTQ with the
    input Hessian H (in, in). Returns float32 values on the MX grid (fmt.fake_quantize returns them).

    Batched: w (L, out, in) and H (L, in, in) round L layers of one shape at once, each with its own H
    and column order (the same values as L calls; the column loop's Python overhead is paid once).
    `factor`: hessian_factor(H, fmt.block_size, opts) computed once for several formats (H unused)."""
    batched = w.dim() == 3
    if not batched:
        w = w[None]
        H = H[None] if H is not None else None
    L, out_f, n = w.shape
    if factor is None:
        factor = hessian_factor(H, fmt.block_size, opts)
        if factor is None:  # one by one
            return torch.stack([gptq_mx(w[i], H[i], fmt, opts) for i in range(L)])
    perm, sizes, diag, U = factor.perm, factor.sizes, factor.diag, factor.U
    orig = w.detach().float()
    if opts.act_order:
        orig = torch.gather(orig, -1, perm[:, None, :].expand(L, out_f, n))
    W = orig.clone()
    if not batched:
        W, Q, U, orig, diag = W[0], torch.zeros_like(W[0]), U[0], orig[0], diag[0]
    else:
        Q = torch.zeros_like(W)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the column loop is many small operations: threads only add overhead (6x)
    try:
        _gptq_loop(W, Q, U, orig, diag, sizes, fmt, opts)
    finally:
        torch.set_num_threads(threads)
    if opts.act_order:
        inv = torch.argsort(perm, dim=-1)
        Q = torch.gather(Q, -1, inv[:, None, :].expand(L, out_f, n)) if batched else Q[:, inv[0]]
    return Q


def _gptq_loop(W, Q, U, orig, diag, sizes, fmt, opts) -> None:
    """The column loop of gptq_mx: fills Q (rounded weights) block by block, updating W in place.
    Every tensor may have a leading layer dimension (W, Q, orig: (..., out, in); U: (..., in, in))."""
    i0 = 0
    for size in sizes:
        i1 = i0 + size
        Wb = W[..., i0:i1]  # a view: the updates below land in W
        src = Wb if opts.scale_from == "updated" else orig[..., i0:i1]
        exp = _search_exponent(src, diag[..., i0:i1], fmt) if opts.exp_search else block_exponent(src, fmt)
        rnd = _column_rounder(exp, fmt)
        err = torch.zeros_like(Wb)
        for j in range(size):
            col = Wb[..., j]
            q = rnd(col)
            Q[..., i0 + j] = q
            e = (col - q) / U[..., i0 + j, i0 + j].unsqueeze(-1)
            Wb[..., j + 1:] -= e.unsqueeze(-1) * U[..., i0 + j, i0 + j + 1:i1].unsqueeze(-2)
            err[..., j] = e
        W[..., i1:] -= err @ U[..., i0:i1, i1:]
        i0 = i1


def on_grid(w: torch.Tensor, fmt: Any) -> bool:
    """The quantizer returns w unchanged: what the hardware (which re-quantizes module weights) will use."""
    return bool(torch.equal(fmt.fake_quantize(w, axis=-1), w))


# ------------------------------------------------------------------------------------------ the model
def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers' ModuleList (LLaMA: model.layers; OPT: model.decoder.layers)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.ModuleList) and name.endswith("layers") and len(m):
            return m
    raise MaseError("quant.weight_rounding=gptq: the model has no decoder layer list (*.layers) to calibrate "
                    "layer by layer")


class _Stop(Exception):
    pass


def _layer_inputs(model: nn.Module, first: nn.Module, ids: torch.Tensor, window: int) -> list[tuple[Any, dict]]:
    """(hidden states, keyword arguments) with which the first decoder layer is called, per window."""
    seen: list[tuple[Any, dict]] = []

    def grab(mod, args, kwargs):
        hidden = args[0] if args else kwargs.pop("hidden_states")
        seen.append((hidden, {k: v for k, v in kwargs.items()}))
        raise _Stop

    h = first.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        with torch.no_grad():
            for start in range(0, ids.numel(), window):
                try:
                    model(input_ids=ids[start:start + window][None], use_cache=False)
                except _Stop:
                    pass
    finally:
        h.remove()
    return seen


def _run_layer(layer: nn.Module, inputs: list[tuple[Any, dict]]) -> list[tuple[Any, dict]]:
    out = []
    with torch.no_grad():
        for hidden, kw in inputs:
            y = layer(hidden, **kw)
            out.append((y[0] if isinstance(y, tuple) else y, kw))
    return out


class _Hessian:
    """Accumulates H = sum_t w_t x_t x_t^T / sum_t w_t of a linear layer's (quantized) inputs.

    Layers fed the same tensor with the same activation format (q/k/v_proj, gate/up_proj) share one
    product per call through `shared`: the same values, computed once."""

    def __init__(self, mod: MXLinear, sink_weight: float, shared: dict | None = None, cross: bool = False):
        self.mod, self.sink = mod, sink_weight
        self.H = torch.zeros(mod.in_features, mod.in_features, dtype=torch.float64)
        # with cross: C = sum_t w_t (xf_t - x_t) xq_t^T, the drift of the layer's input x (before its
        # activation quantization) from xf, its input in the float model (self.float_input, set per window
        # before the quantized layer runs)
        self.C = torch.zeros_like(self.H) if cross else None
        self.float_input: torch.Tensor | None = None
        self.n = 0.0
        self.shared = shared if shared is not None else {}

    def _weighted(self, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        """x (..., tokens, in) as rows scaled by sqrt of each token's weight, and the weights' sum."""
        x = x.reshape(-1, x.shape[-2], x.shape[-1])  # (batch, tokens, in)
        wt = torch.ones(x.shape[-2])
        wt[0] = self.sink
        return (x * wt.sqrt()[None, :, None]).reshape(-1, x.shape[-1]), float(wt.sum()) * x.shape[0]

    def __call__(self, mod, args):
        key = (mod.spec.act, self.sink)
        last = self.shared.get("last")
        if (last is not None and last[0] is args[0] and last[1] == key
                and (self.C is None or last[4] is self.float_input)):
            _, _, xtx, n, _, xfx = last
        else:
            x, n = self._weighted(mod.spec.act.fake_quantize(args[0].detach(), axis=-1).float())  # multiplied
            xtx = (x.T @ x).double()  # float32 products per window, summed in float64
            xfx = None
            if self.C is not None:  # the drift of the input from the float model's: E[(xf - x) xq^T]
                xf, _ = self._weighted(self.float_input.detach().float() - args[0].detach().float())
                xfx = (xf.T @ x).double()
            # holds the tensors: their ids are not reused meanwhile
            self.shared["last"] = (args[0], key, xtx, n, self.float_input, xfx)
        self.H += xtx
        self.n += n
        if self.C is not None:
            self.C += xfx


class _Inputs:
    """Collects a linear layer's raw inputs (tokens, in_features) over the calibration windows."""

    def __init__(self):
        self.parts: list[torch.Tensor] = []

    def __call__(self, mod, args):
        self.parts.append(args[0].detach().reshape(-1, args[0].shape[-1]))

    def cat(self) -> torch.Tensor:
        return torch.cat(self.parts)


def _with_hooks(layer: nn.Module, inputs, hooks: dict[nn.Module, Any], stop_after: nn.Module | None = None) -> None:
    """Run the layer on every window with `hooks` as forward pre-hooks; with stop_after, each window
    stops once that module has seen its input (the rest of the layer is not needed)."""
    def stop(mod, args):
        raise _Stop

    handles = [m.register_forward_pre_hook(h) for m, h in hooks.items()]
    if stop_after is not None:
        handles.append(stop_after.register_forward_pre_hook(stop))  # after its own hooks: they ran first
    try:
        with torch.no_grad():
            for hidden, kw in inputs:
                try:
                    layer(hidden, **kw)
                except _Stop:
                    pass
    finally:
        for h in handles:
            h.remove()


def _with_float_pairs(layer: nn.Module, inputs, floats, hess: dict[nn.Module, _Hessian],
                      stop_after: nn.Module | None) -> None:
    """_with_hooks(layer, inputs, hess) with each hook also told, window by window, the input its layer
    gets in the float model (floats: the float model's inputs of this decoder layer)."""
    from .quantizer import quantization_disabled  # the layer as the float model computes it

    def grab(h: _Hessian):
        def hook(mod, args):
            h.float_input = args[0]
        return hook

    for q, f in zip(inputs, floats):
        with quantization_disabled(layer):
            _with_hooks(layer, [f], {m: grab(h) for m, h in hess.items()}, stop_after)
        _with_hooks(layer, [q], hess, stop_after)


def asymmetric_target(w: torch.Tensor, D: torch.Tensor, H: torch.Tensor, alpha: float, damp: float) -> torch.Tensor:
    """GPTQ's target when the layer's inputs x have drifted from the float model's xf (the error the
    layers before left): the weights whose output on the quantized inputs xq best matches W xf (least
    squares), W + W D H^-1 with D = E[(xf - x) xq^T] and H = E[xq xq^T], the correction scaled by alpha
    (asymmetric calibration, GPTAQ, arXiv 2504.02692). The drift is taken before the layer's own
    activation quantization, whose error is noise that no weight can undo. H is damped by `damp` times
    its median diagonal: the mean (GPTQ's) is dominated by SmolLM2's sink channel."""
    Hd = H.double().clone()
    d = torch.diag(Hd)
    Hd[d == 0, d == 0] = 1.0  # inputs never seen: no correction (their D columns are 0)
    Hd += float(d[d > 0].median()) * damp * torch.eye(Hd.shape[0], dtype=Hd.dtype) if bool((d > 0).any()) else 0.0
    w64 = w.double()
    corr = torch.linalg.solve(Hd, D.double().T @ w64.T).T  # W D H^-1 (H symmetric)
    return (w64 + alpha * corr).to(w.dtype)


def _input_groups(layer: nn.Module, inputs, mods: list[nn.Module]) -> list[list[nn.Module]]:
    """`mods` in the order the layer calls them on its first window, consecutive ones fed the same
    tensor in one group (q/k/v_proj; gate/up_proj): the order of sequential GPTQ."""
    order: list[tuple[nn.Module, torch.Tensor]] = []  # holds the inputs: no id is reused meanwhile

    def seen(m):
        def hook(mod, args):
            if all(o is not mod for o, _ in order):
                order.append((mod, args[0]))
        return hook

    handles = [m.register_forward_pre_hook(seen(m)) for m in mods]
    try:
        _run_layer(layer, inputs[:1])
    finally:
        for h in handles:
            h.remove()
    groups: list[list[nn.Module]] = []
    for i, (m, x) in enumerate(order):
        if i and order[i - 1][1] is x:
            groups[-1].append(m)
        else:
            groups.append([m])
    return groups + [[m] for m in mods if all(m is not o for o, _ in order)]  # not called: last, alone


def compensate(model: nn.Module, ids: torch.Tensor, window: int, opts: GPTQOptions | None,
               act_scaling: bool = False) -> dict[str, Any]:
    """Layer by layer on calibration token ids (1-D, run in windows), each decoder layer seeing the
    outputs of the layers before as already compensated: first activation-aware scales folded into
    the layer (act_scaling, mase.quantize.act_scaling), then GPTQ (opts; None: nearest rounding) on
    every MXLinear with an MX weight format not matching opts.skip. Returns a summary."""
    from .act_scaling import _groups, scale_layer
    from .quantizer import quantization_disabled

    t0 = time.perf_counter()
    layers = decoder_layers(model)
    inputs = _layer_inputs(model, layers[0], ids, window)
    floats = list(inputs) if opts is not None and opts.asym else None  # the float model's (same before layer 0)
    done: list[str] = []
    skipped: list[str] = []
    alphas: dict[str, float] = {}
    names = {m: n for n, m in model.named_modules()}
    for layer in layers:
        if act_scaling:
            heads = {lins[0]: _Inputs() for _, lins, _ in _groups(layer)}
            _with_hooks(layer, inputs, heads)
            alphas.update(scale_layer(layer, {m: h.cat() for m, h in heads.items()}))
        if opts is not None:
            mods = [m for m in layer.modules() if isinstance(m, MXLinear) and isinstance(m.spec.weight, MXFormat)]
            todo = [m for m in mods if not any(fnmatchcase(names[m], p) for p in opts.skip)]
            skipped += [names[m] for m in mods if m not in todo]
            for group in _input_groups(layer, inputs, todo) if opts.sequential else [todo]:
                shared: dict = {}
                hess = {m: _Hessian(m, opts.sink_weight, shared, cross=bool(opts.asym)) for m in group}
                stop_after = group[-1] if opts.sequential else None
                if opts.asym:
                    _with_float_pairs(layer, inputs, floats, hess, stop_after)
                else:
                    _with_hooks(layer, inputs, hess, stop_after=stop_after)
                for m in group:
                    hs = hess[m]
                    H = hs.H / max(hs.n, 1.0)
                    w = m.weight.detach()
                    if opts.asym:
                        w = asymmetric_target(w, hs.C / max(hs.n, 1.0), H, opts.asym, opts.asym_damp)
                    m.set_weight(gptq_mx(w, H, m.spec.weight, opts))
                    done.append(names[m])
        inputs = _run_layer(layer, inputs)  # the next layer's inputs, through the compensated layer
        if floats is not None:
            with quantization_disabled(layer):
                floats = _run_layer(layer, floats)
    secs = time.perf_counter() - t0
    log.info("calibrated weights of %d decoder layers on %d tokens in %.1f s: %d linear layers by GPTQ "
             "(%d kept at nearest rounding), activation scaling %s", len(layers), ids.numel(), secs, len(done),
             len(skipped), "on" if act_scaling else "off")
    out: dict[str, Any] = {"layers": len(done), "skipped": skipped, "seconds": round(secs, 1)}
    if act_scaling:
        out["act_scaling_alpha"] = alphas
    return out


def options(g: Any) -> GPTQOptions:
    """GPTQOptions from a quant.gptq config node."""
    return GPTQOptions(damp=float(g.damp), scale_from=str(g.scale_from), exp_search=bool(g.exp_search),
                       act_order=bool(g.act_order), sink_weight=float(g.sink_weight), skip=tuple(g.skip),
                       sequential=bool(g.get("sequential", False)), asym=float(g.get("asym", 0.0)),
                       asym_damp=float(g.get("asym_damp", 0.1)))


def calibration_text_ids(tokenizer: Any, quant_cfg: Any, eval_cfg: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """GPTQ's calibration token ids and what they are ({"dataset", "tokens": [first, end)}): gensim's
    lee.cor (none of its articles is in lee_background.cor, the lee evaluation text) or the evaluation
    text after the scored tokens; never the scored tokens."""
    g = quant_cfg.gptq
    n = int(g.tokens)
    if g.calibration == "after_eval":
        if eval_cfg is None:
            raise MaseError("quant.gptq.calibration=after_eval needs the evaluation config; use lee_test")
        from .calibrate import calibration_ids

        return calibration_ids(tokenizer, eval_cfg, n or int(quant_cfg.calibration_tokens))
    from mase.evaluate.data import lee_test_text
    from mase.models import tokenize

    ids = tokenize(tokenizer, lee_test_text())
    if n > ids.numel():
        raise MaseError(f"quant.gptq.tokens={n}: lee.cor has only {ids.numel()} tokens for this tokenizer "
                        f"(0: all of them)")
    ids = ids[:n] if n else ids
    return ids, {"dataset": "lee_test (gensim lee.cor)", "tokens": [0, int(ids.numel())]}


def compensate_on_text(model: nn.Module, tokenizer: Any, quant_cfg: Any, eval_cfg: Any = None) -> dict[str, Any]:
    """compensate() (GPTQ and/or activation scaling as quant_cfg asks) on the calibration text of quant.gptq, in evaluation windows (512 without an
    evaluation config). Returns the summary with the calibration text named."""
    if tokenizer is None:
        raise MaseError("quant.weight_rounding=gptq and quant.act_scaling calibrate on text: quantize_model "
                        "needs the tokenizer")
    ids, info = calibration_text_ids(tokenizer, quant_cfg, eval_cfg)
    window = int(eval_cfg.window) if eval_cfg is not None else 512
    opts = options(quant_cfg.gptq) if quant_cfg.weight_rounding == "gptq" else None
    act = str(getattr(quant_cfg, "act_scaling", "none")) == "awq"
    return {"calibration": info, **compensate(model, ids, window, opts, act_scaling=act)}
