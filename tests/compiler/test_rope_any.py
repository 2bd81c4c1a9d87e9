"""RoPE of any (head_dim, theta) and of the scaled RoPE types (issue 10 item 2): the table the rope
core gets (FREQS), the golden model's and the software hw-RoPE's are one, computed by transformers for
the model; whole models simulate bit-exact; types the core cannot compute are refused in one line."""

from __future__ import annotations

import json

import pytest
import torch

from mase.config import MaseError, compose
from mase.pipeline import run

LLAMA3 = ("{rope_type:llama3,factor:8.0,low_freq_factor:1.0,high_freq_factor:4.0,"
          "original_max_position_embeddings:64}")
CASES = {  # name: overrides of tiny-llama (one decoder layer: the simulations stay short)
    "d16-theta5e5": ["model.tiny.rope_theta=500000"],
    "d64-theta1e6": ["model.tiny.num_heads=1", "model.tiny.num_kv_heads=1", "model.tiny.rope_theta=1000000"],
    "linear": ["model.tiny.rope_scaling={rope_type:linear,factor:4.0}"],
    "llama3": ["model.tiny.rope_theta=500000", f"model.tiny.rope_scaling={LLAMA3}"],
}
HEAD_DIM = {"d64-theta1e6": 64}


def _cfg(case: str, extra=()):
    return compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "model.tiny.num_layers=1", *CASES[case],
                    *extra])


def _model_and_graph(case: str):
    from mase.compiler.graph import capture
    from mase.models import load_model

    cfg = _cfg(case)
    model = load_model(cfg)[0]
    return model, capture(model, cfg.quant, seq_len=8, model_name="tiny-llama")


def _float_rope(model, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """What the float model does to a head vector x (T, D) at positions pos (T,)."""
    rot = model.model.rotary_emb
    cos, sin = rot(x[None], pos[None])
    half = x.shape[-1] // 2
    return x * cos[0] + torch.cat((-x[:, half:], x[:, :half]), -1) * sin[0]


@pytest.mark.parametrize("case", list(CASES))
def test_table_follows_the_model(case):
    """The graph's table rotates like the float model (and a plain theta-1e4 table would not); the
    software hw-RoPE (quant.nonlinear.rope=hw) uses the same table, and capture after it too."""
    from mase.golden import nonlinear as G
    from mase.golden import nonlinear_tables as T
    from mase.golden.nonlinear_patch import apply_hw_nonlinear

    model, g = _model_and_graph(case)
    hd = HEAD_DIM.get(case, 16)
    ropes = [n for n in g.nodes if n.op == "rope"]
    assert len(ropes) == 2 and all(n.attrs["head_dim"] == hd for n in ropes)
    freqs = ropes[0].attrs["freqs"]
    assert len(freqs) == hd // 2 and all(n.attrs["freqs"] == freqs for n in ropes)
    gen = torch.Generator().manual_seed(hd)
    pos = torch.cat((torch.arange(8), torch.randint(8, 4096, (56,), generator=gen)))
    x = (torch.rand(pos.numel(), hd, generator=gen) * 8 - 4)
    ref = _float_rope(model, x, pos)
    err = (G.hw_rope(x, pos, freqs) - ref).abs().max().item()
    assert err < 8e-3, f"{case}: hardware RoPE {err:.3g} away from the float model"
    plain = (G.hw_rope(x, pos, T.rope_freq_table(hd, 1e4)) - ref).abs().max().item()
    assert plain > 0.5, f"{case}: a plain theta-1e4 table is only {plain:.3g} off; the case tests nothing"
    counts = apply_hw_nonlinear(model, {"rope"})
    hws = [m.mase_hw for m in model.modules() if hasattr(m, "mase_hw")]
    assert counts["rope"] == len(hws) == 1 and hws[0].rope_freqs == freqs
    from mase.compiler.graph import capture

    g2 = capture(model, _cfg(case).quant, seq_len=8, model_name="tiny-llama")  # rotary now inside IdentityRotary
    assert next(n for n in g2.nodes if n.op == "rope").attrs["freqs"] == freqs


@pytest.mark.slow
@pytest.mark.parametrize("case", ["d64-theta1e6", "llama3"])  # llama3: theta 5e5, head_dim 16, a scaled table
def test_rope_any_bit_exact(tmp_path, case):
    from mase.golden.nonlinear_tables import rope_freqs_hex

    ctx = run(_cfg(case), tmp_path, stages=["emit", "lint", "sim"])
    man = json.loads((tmp_path / "hw" / "manifest.json").read_text())
    assert man["complete"] and man["nodes_total"] == man["nodes_mapped"]
    graph = json.loads((tmp_path / "hw" / "graph.json").read_text())
    freqs = next(n for n in graph["nodes"] if n["op"] == "rope")["attrs"]["freqs"]
    top = (tmp_path / "hw" / "rtl" / "mase_top.sv").read_text()
    assert f'.FREQS("{rope_freqs_hex(tuple(freqs))}")' in top  # the core gets the golden model's table
    assert ctx.results["lint"]["clean"]
    sim = ctx.results["sim"]
    assert sim["scope"] == "whole model" and sim["bit_exact"], sim
    assert all(r["passed"] and not any(r["mismatches"].values()) for r in sim["runs"])


@pytest.mark.parametrize("scaling,what", [
    ("{rope_type:yarn,factor:4.0}", "scales cos/sin"),
    ("{rope_type:dynamic,factor:2.0}", "sequence length"),
])
def test_refused_rope_types(tmp_path, scaling, what):
    rtype = scaling.split(",")[0].split(":")[1]
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", f"model.tiny.rope_scaling={scaling}"])
    with pytest.raises(MaseError, match=f"RoPE of type '{rtype}'.*{what}") as e:
        run(cfg, tmp_path / "emit", stages=["emit"])
    assert "\n" not in str(e.value)
    # the software hw-RoPE refuses it too (it could not match the hardware either)
    with pytest.raises(MaseError, match=f"RoPE of type '{rtype}'") as e:
        run(compose([*cfg_overrides(scaling), "quant.nonlinear.rope=hw"]), tmp_path / "q", stages=["quantize"])
    assert "\n" not in str(e.value)


def cfg_overrides(scaling: str) -> list[str]:
    return ["+model=tiny-llama", "quant=mxint4", f"model.tiny.rope_scaling={scaling}"]
