"""Orthogonal rotation of the residual stream folded into the weights (quant.rotation).

QuaRot/SpinQuant without online transforms. For an orthogonal Q, a LLaMA model whose residual stream h
is replaced everywhere by h Q computes the same function: RMSNorm only divides by ||h||, which Q keeps,
so every norm output is x Q too, once its gain g is folded into the linears that read it. So:

    q/k/v, gate/up, lm_head:  W <- (W diag(g)) Q     (input side; the norm's gain becomes 1)
    o_proj, down_proj:        W <- Q^T W, b <- b Q   (output side: what they add to the stream)
    embedding table:          E <- E Q               (a tied lm_head is untied first)

The 4-bit blocks of a rotated weight mix all input channels, so one outlier channel no longer sets the
shared scale of every block it sits in. Optionally (quant.rotation_heads) each attention head's values
are rotated too (v_proj output side, o_proj input side: W_v <- R^T W_v per head, W_o <- W_o diag(R..)),
since scores . (V R) = (scores . V) R.

The hardware does not change: the embedding runs on the host, norms with gains of 1 are still norm
cores, and the compiler reads the rotated weights from the model. Done before quantization.

Measured on smollm2-135m W4A8 (README, "Error compensation"): with nearest rounding a rotation hurts (its
sink channel's gain of 0.004, folded, rounds that column to zero; a rotation spreads the channel over
every block); with GPTQ it is within its seed-to-seed spread of no rotation. Kept for other models.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from mase.errors import MaseError

log = logging.getLogger("mase.quantize")

ROTATIONS = ("none", "hadamard", "random")


def random_orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    """A Haar-random orthogonal n x n matrix (float64): QR of a Gaussian, signs fixed by R's diagonal."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r)).unsqueeze(0)


def walsh_hadamard(n: int) -> torch.Tensor:
    """The n x n Sylvester Hadamard matrix / sqrt(n) (n a power of two), float64."""
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / n**0.5


def rotation_matrix(n: int, kind: str, seed: int = 0, block: int = 0) -> torch.Tensor:
    """An orthogonal n x n matrix (float64). hadamard: n = 2^a * m as the Kronecker product of a
    Walsh-Hadamard matrix of 2^a (with random signs on its rows) and a random orthogonal m x m one
    (576 = 64 x 9 for smollm2); random: a seeded Haar-random orthogonal matrix. block > 0: block-diagonal,
    one such block x block matrix per group of `block` channels (aligned with the MX blocks: an outlier
    channel only spreads inside its own block)."""
    if block:
        if n % block:
            raise MaseError(f"quant.rotation_block={block} does not divide the hidden size {n}")
        return torch.block_diag(*(rotation_matrix(block, kind, seed + i) for i in range(n // block)))
    gen = torch.Generator().manual_seed(seed)
    if kind == "random":
        return random_orthogonal(n, gen)
    if kind != "hadamard":
        raise MaseError(f"quant.rotation={kind!r}: choose one of {', '.join(ROTATIONS)}")
    p2 = n & -n  # the largest power of two dividing n
    signs = torch.randint(0, 2, (p2,), generator=gen, dtype=torch.float64) * 2 - 1
    h = signs.unsqueeze(1) * walsh_hadamard(p2)
    m = n // p2
    return h if m == 1 else torch.kron(h.contiguous(), random_orthogonal(m, gen).contiguous())


# ------------------------------------------------------------------------------------------ the model
def _llama_parts(model: nn.Module) -> tuple[nn.Module, nn.ModuleList]:
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    ok = (inner is not None and layers is not None and hasattr(inner, "embed_tokens") and hasattr(inner, "norm")
          and hasattr(model, "lm_head") and all(hasattr(l, "input_layernorm") and hasattr(l, "self_attn")
                                                 and hasattr(l, "mlp") for l in layers))
    if not ok:
        raise MaseError(f"quant.rotation: only LLaMA-family models (RMSNorm, pre-norm) can be rotated, not "
                        f"{type(model).__name__}; set quant.rotation=none")
    for n in [inner.norm, *(x for l in layers for x in (l.input_layernorm, l.post_attention_layernorm))]:
        if getattr(n, "bias", None) is not None or "RMSNorm" not in type(n).__name__:
            raise MaseError(f"quant.rotation: {type(n).__name__} is not a bias-free RMSNorm; set quant.rotation=none")
    return inner, layers


def _set(p: nn.Parameter, v: torch.Tensor) -> None:
    p.data = v.to(p.dtype).contiguous()


def _fold_in(norm: nn.Module, lins: list[nn.Linear], q: torch.Tensor, keep: list[int]) -> None:
    """The norm's gain into the linears reading it, then their input side rotated; the gain becomes 1,
    except on the channels `keep`, which q leaves alone: their gains stay in the norm."""
    kept = torch.zeros(norm.weight.numel(), dtype=torch.bool)
    kept[keep] = True
    g = torch.where(kept, 1.0, norm.weight.detach().float())
    for m in lins:
        _set(m.weight, (m.weight.detach() * g.unsqueeze(0)) @ q)
    norm.weight.data = torch.where(kept, norm.weight.detach(), 1.0).to(norm.weight.dtype)


def _rotate_out(m: nn.Linear, q: torch.Tensor) -> None:
    _set(m.weight, q.T @ m.weight.detach())
    if m.bias is not None:
        _set(m.bias, m.bias.detach() @ q)


def _untie(model: nn.Module) -> None:
    """A separate lm_head weight (smollm2 ties it to the embedding table): each gets its own rotation."""
    emb, head = model.get_input_embeddings(), model.lm_head
    if head.weight is emb.weight or head.weight.data_ptr() == emb.weight.data_ptr():
        head.weight = nn.Parameter(emb.weight.detach().clone(), requires_grad=False)
    if getattr(model.config, "tie_word_embeddings", False):
        model.config.tie_word_embeddings = False  # save/reload must not re-tie them
    if hasattr(model, "_tied_weights_keys"):
        model._tied_weights_keys = []


def massive_channels(model: nn.Module, ids: torch.Tensor, k: int) -> list[int]:
    """The k residual channels with the largest |h| anywhere on `ids` (one window; the inputs of every
    norm): the massive activations of the attention-sink token (smollm2-135m: channel 507 at 22552 on
    the first token, the median channel's max 78)."""
    inner, layers = _llama_parts(model)
    peak = torch.zeros(model.config.hidden_size)

    def grab(mod, args):
        torch.maximum(peak, args[0].detach().abs().reshape(-1, peak.numel()).amax(0).float(), out=peak)

    norms = [inner.norm, *(x for l in layers for x in (l.input_layernorm, l.post_attention_layernorm))]
    hs = [n.register_forward_pre_hook(grab) for n in norms]
    try:
        with torch.no_grad():
            model(input_ids=ids[None], use_cache=False)
    finally:
        for h in hs:
            h.remove()
    return sorted(int(c) for c in peak.topk(k).indices) if k else []


def keep_channels(q: torch.Tensor, keep: list[int], n: int) -> torch.Tensor:
    """An n x n orthogonal matrix that is the identity on the channels `keep` and q (n - len(keep)
    square) on the others, in their order."""
    rest = [c for c in range(n) if c not in set(keep)]
    full = torch.zeros(n, n, dtype=q.dtype)
    full[keep, keep] = 1.0
    idx = torch.tensor(rest)
    full[idx[:, None], idx[None, :]] = q
    return full


def rotate_model(model: nn.Module, kind: str, seed: int = 0, heads: bool = False,
                 keep: list[int] = (), block: int = 0) -> dict[str, Any]:
    """Rotate a float LLaMA model's residual stream (and optionally each head's values) in place,
    before quantization; the residual channels `keep` (massive_channels) are left out of the rotation and
    keep their norm gains, so the attention sink's direction stays one weight column of its trained size
    (folding a gain of 0.004 into it rounds it to zero). Returns a summary for the report."""
    if kind == "none":
        return {}
    inner, layers = _llama_parts(model)
    d = model.config.hidden_size
    keep = sorted(set(int(c) for c in keep))
    if keep and block:
        raise MaseError("quant.rotation_keep and quant.rotation_block cannot be combined: set one to 0")
    q = rotation_matrix(d - len(keep), kind, seed, block)
    q = (keep_channels(q, keep, d) if keep else q).float()  # float64 built, float32 applied (1e-6 of the logits)
    _untie(model)
    with torch.no_grad():
        emb = model.get_input_embeddings()
        _set(emb.weight, emb.weight.detach() @ q)
        for l in layers:
            a, f = l.self_attn, l.mlp
            _fold_in(l.input_layernorm, [a.q_proj, a.k_proj, a.v_proj], q, keep)
            _fold_in(l.post_attention_layernorm, [f.gate_proj, f.up_proj], q, keep)
            _rotate_out(a.o_proj, q)
            _rotate_out(f.down_proj, q)
            if heads:
                _rotate_heads(a, model.config, seed)
        _fold_in(inner.norm, [model.lm_head], q, keep)
    log.info("rotated the residual stream (%s, %d x %d)%s", kind, d, d, " and each head's values" if heads else "")
    return {"rotation": kind, "seed": seed, "heads": heads, "kept_channels": keep, "block": block}


def _rotate_heads(attn: nn.Module, conf: Any, seed: int) -> None:
    """Per head: V <- V R (v_proj output side), o_proj input side by the block-diagonal diag(R, R, ...).
    The same R for every head, so grouped-query attention (heads sharing a V) stays exact."""
    hd = getattr(conf, "head_dim", None) or conf.hidden_size // conf.num_attention_heads
    r = rotation_matrix(hd, "hadamard" if hd & (hd - 1) == 0 else "random", seed + 1).float()
    v, o = attn.v_proj, attn.o_proj
    n_kv = v.out_features // hd
    w = v.weight.detach().reshape(n_kv, hd, -1)
    _set(v.weight, torch.einsum("ji,hjc->hic", r, w).reshape(v.out_features, -1))  # R^T W_h
    if v.bias is not None:
        _set(v.bias, (v.bias.detach().reshape(n_kv, hd) @ r).reshape(-1))
    n_q = o.in_features // hd
    wo = o.weight.detach().reshape(o.out_features, n_q, hd)
    _set(o.weight, (wo @ r).reshape(o.out_features, -1))
