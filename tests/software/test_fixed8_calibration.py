"""fixed8 with static, calibrated activation scales (mase.quantize.calibrate)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mase.config import compose, load_group
from mase.config.errors import MaseError
from mase.formats import get_format
from mase.pipeline import run
from mase.quantize import MXLinear, calibrate, layer_table, quantization_disabled, quantize_model

IDS = torch.arange(2, 66) % 256


def test_frozen_format_keeps_its_scale():
    f = get_format("fixed8").frozen(3.0)  # floor(log2 3) = 1: codes * 2**-5, range +-127/32
    assert f.static and f.scale_exp == 1 and f.exponent(torch.tensor([100.0])) == 1
    x = torch.tensor([0.03125 * 3, 100.0, -0.01])
    assert f.fake_quantize(x).tolist() == [0.09375, 127 / 32, 0.0]  # saturates instead of rescaling
    q = f.quantize(x)
    assert int(q.scales[0]) == 127 - 5 and torch.equal(f.dequantize(q), f.fake_quantize(x))
    assert get_format("fixed8").frozen(0.0).scale_exp == 0
    with pytest.raises(ValueError):
        get_format("fixed8_4").frozen(1.0)


def _observed_max(model, name: str, ids: torch.Tensor) -> float:
    """max |x| at the input of module `name` in a float run of `ids`."""
    seen = []
    h = model.get_submodule(name).register_forward_pre_hook(lambda m, a: seen.append(float(a[0].abs().max())))
    with torch.no_grad(), quantization_disabled(model):
        model(ids[None])
    h.remove()
    return max(seen)


def test_calibration_freezes_every_site_from_max_abs(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, "fixed8")
    name = "model.layers.1.mlp.down_proj"
    frozen = calibrate(model, IDS, window=32)
    assert len(frozen) == 2 * 7 + 2 and set(frozen["model.layers.0.self_attn"]) == {
        "query", "key", "scores", "value", "qk_out", "sv_out"}
    lin = model.get_submodule(name)
    assert isinstance(lin, MXLinear) and lin.spec.act.static and lin.spec.out.static
    rows = {r["name"]: r for r in layer_table(model)}
    assert rows[name]["scale_exp"] == frozen[name] and rows[name]["act"] == "fixed8"
    q0 = "model.layers.0.self_attn.q_proj"  # input: the first norm of the embeddings, the same in float
    m = max(_observed_max(model, q0, IDS[i:i + 32]) for i in (0, 32))
    assert frozen[q0]["act"] == math.floor(math.log2(m))


def test_fake_quantization_uses_frozen_scales(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, "fixed8")
    calibrate(model, IDS, window=64)
    lin = model.get_submodule("model.layers.0.mlp.gate_proj")
    x = torch.randn(3, lin.in_features)
    big = x * 1000  # a dynamic scale would follow the max; the static one saturates
    assert torch.equal(lin.spec.act.fake_quantize(big), lin.spec.act.fake_quantize(big.clamp(-1e3, 1e3)))
    assert float(lin.spec.act.fake_quantize(big).abs().max()) == 127 * 2.0 ** (lin.spec.act.scale_exp - 6)


def test_mx_is_untouched_by_calibration(tiny_llama):
    model, _ = tiny_llama
    quantize_model(model, "mxint4")
    with torch.no_grad():
        before = model(IDS[None]).logits
    specs = [m.spec for m in model.modules() if isinstance(m, MXLinear)]
    assert calibrate(model, IDS, window=64) == {}
    assert [m.spec for m in model.modules() if isinstance(m, MXLinear)] == specs
    with torch.no_grad():
        assert torch.equal(model(IDS[None]).logits, before)
    assert all("scale_exp" not in r for r in layer_table(model))


def test_quantize_stage_saves_the_frozen_scales(tmp_path):
    cfg = compose(["+model=tiny-opt", "quant=fixed8", "quant.calibration_tokens=64", "eval=quick"])
    ctx = run(cfg, tmp_path, stages=["quantize"])
    rows = json.loads((tmp_path / "layers.json").read_text())["rows"]
    assert all(r["scale_exp"] for r in rows if r["quantized"])
    lin = ctx.model.get_submodule("model.decoder.layers.0.fc1")
    assert lin.spec.act.scale_exp == rows[[r["name"] for r in rows].index("model.decoder.layers.0.fc1")][
        "scale_exp"]["act"]


def test_too_few_calibration_tokens_is_one_line(tiny_llama):
    model, tok = tiny_llama
    with pytest.raises(MaseError, match="calibration_tokens=1"):
        quantize_model(model, load_group("quant", "fixed8", calibration_tokens=1), None, tok,
                       load_group("eval", "quick"))
