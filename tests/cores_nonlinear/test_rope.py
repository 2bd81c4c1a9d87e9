"""mx_rope against mase.golden.nonlinear.rope_int, bit for bit (position as an input per beat), for
frequency tables of any (head_dim, theta) and of scaled RoPE types, given to the core as FREQS."""

import pytest
import torch

from mase.eda import build_sim
from mase.golden import nonlinear_tables as T
from mase.golden.nonlinear import RopeConfig, rope_int

from .util import check_runs, pack, rand_signed

LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 256}


def _model_freqs(head_dim: int, theta: float, scaling: dict) -> tuple[int, ...]:
    """The table of a LLaMA rotary embedding, as the compiler computes it."""
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    conf = LlamaConfig(hidden_size=2 * head_dim, num_attention_heads=2, rope_theta=theta, rope_scaling=scaling)
    return T.rope_freqs(LlamaRotaryEmbedding(conf))


CONFIGS = [  # lanes, head_dim, theta, rope_scaling (None: plain float64 table), pos_w, in_w, in_f, out_w, out_f
    (1, 64, 1e5, None, 16, 16, 10, 16, 10),
    (2, 16, 1e4, None, 12, 12, 8, 14, 9),
    (1, 16, 5e5, None, 16, 16, 10, 16, 10),  # theta of LLaMA 3 with a small head
    (4, 64, 1e6, None, 16, 16, 10, 16, 10),  # CodeLlama
    (3, 12, 12345.6, None, 10, 16, 10, 16, 10),  # 6 pairs (not a power of two), theta not an integer
    (4, 320, 1e4, None, 16, 16, 10, 16, 10),  # 160 pairs: pair index wider than 7 bits
    (2, 4, 1e4, None, 16, 16, 10, 16, 10),  # the smallest head: one beat a vector, a 1-bit pair index
    (2, 32, 5e5, LLAMA3, 16, 16, 10, 16, 10),
    (2, 32, 1e4, {"rope_type": "linear", "factor": 4.0}, 16, 16, 10, 16, 10),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"L{c[0]}-d{c[1]}-t{c[2]:g}-{(c[3] or {}).get('rope_type', 'plain')}"
                                              for c in CONFIGS])
def test_rope(cfg):
    lanes, d, theta, scaling, pos_w, in_w, in_f, out_w, out_f = cfg
    gen = torch.Generator().manual_seed(d + lanes)
    vectors = 24
    half = d // 2
    x = rand_signed(gen, (vectors, d), in_w, in_w - 2)
    pos = torch.randint(0, 1 << pos_w, (vectors,), generator=gen)
    pos[:3] = torch.tensor([0, 1, (1 << pos_w) - 1])
    rc = RopeConfig(in_w, in_f, out_w, out_f, pos_w)
    freqs = _model_freqs(d, theta, scaling) if scaling else T.rope_freq_table(d, theta, rc.phase_f)
    y_lo, y_hi = rope_int(x[:, :half], x[:, half:], pos[:, None], torch.tensor(freqs, dtype=torch.int64), rc)
    bpv = half // lanes
    # beat (v, b): lanes of pairs b*lanes .. b*lanes+lanes-1 of vector v
    xl = x[:, :half].reshape(vectors * bpv, lanes)
    xh = x[:, half:].reshape(vectors * bpv, lanes)
    pb = pos.repeat_interleave(bpv)
    mask = (1 << in_w) - 1
    beats = [pk_l | (pk_h << (lanes * in_w)) | (int(p) << (2 * lanes * in_w))
             for pk_l, pk_h, p in zip(pack(xl & mask, in_w), pack(xh & mask, in_w), pb)]
    expect = [a | (b << (lanes * out_w)) for a, b in zip(pack(y_lo.reshape(-1, lanes), out_w),
                                                        pack(y_hi.reshape(-1, lanes), out_w))]
    sim = build_sim("mase:mx:rope", {"LANES": lanes, "HEAD_DIM": d, "FREQS": T.rope_freqs_hex(freqs, rc.phase_f),
                                     "POS_W": pos_w, "IN_W": in_w, "IN_F": in_f, "OUT_W": out_w, "OUT_F": out_f})
    check_runs(sim, {"in": beats}, len(beats), expect, {"in": pos_w + 2 * lanes * in_w})


def test_scaled_tables_differ():
    """The scaled types really change the table (so the runs above test more than plain RoPE)."""
    plain = _model_freqs(32, 5e5, {"rope_type": "default"})
    assert _model_freqs(32, 5e5, LLAMA3) != plain
    assert _model_freqs(32, 1e4, {"rope_type": "linear", "factor": 4.0})[1] == round(
        _model_freqs(32, 1e4, {"rope_type": "default"})[1] / 4)


def test_bad_freqs_refused():
    """A FREQS text of the wrong length is an elaboration error, never a zero table."""
    from mase.eda import EdaError, lint

    with pytest.raises(EdaError, match="FREQS must be"):
        lint("mase:mx:rope", {"HEAD_DIM": 16, "FREQS": T.rope_freqs_hex(T.rope_freq_table(8, 1e4))})
