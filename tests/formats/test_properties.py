"""Property tests: idempotence, sign symmetry, half-step error bound, codes consistent with values."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mase.formats import get_format
from mase.formats.bits import exp2i, floor_log2

MX = ["mxint2", "mxint4", "mxint6", "mxint8", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1"]
ALL = MX + ["fixed8", "fixed12_6", "bf16"]

finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
tensors = st.builds(
    lambda a, e: torch.from_numpy(a) * float(2.0**e),
    arrays(np.float32, st.integers(1, 100), elements=finite32.filter(lambda v: abs(v) < 1e30)),
    st.integers(-20, 20),
).filter(lambda t: torch.isfinite(t).all())
settings.register_profile("mase", max_examples=60, deadline=None)
settings.load_profile("mase")


@pytest.mark.parametrize("name", ALL)
@given(x=tensors, k=st.sampled_from([8, 16, 32, 64]))
def test_idempotent(name, x, k):
    fmt = get_format(name, block_size=k)
    y = fmt.fake_quantize(x)
    assert torch.equal(fmt.fake_quantize(y), y)


@pytest.mark.parametrize("name", ALL)
@given(x=tensors)
def test_sign_symmetric(name, x):
    fmt = get_format(name)
    assert torch.equal(fmt.fake_quantize(-x), -fmt.fake_quantize(x))


@pytest.mark.parametrize("name", MX)
@given(x=tensors, k=st.sampled_from([8, 32]))
def test_error_at_most_half_a_step_unless_saturated(name, x, k):
    fmt = get_format(name, block_size=k)
    q = fmt.quantize(x)
    scale = exp2i(q.scales.to(torch.int32) - 127).unsqueeze(-1)
    blocks = torch.nn.functional.pad(x, (0, (-x.numel()) % k)).reshape(-1, k)
    v = blocks / scale
    el = fmt.element
    if hasattr(el, "mbits"):
        step = exp2i(floor_log2(v).clamp(min=el.emin) - el.mbits)
    else:
        step = torch.full_like(v, 2.0**el.lsb_exp)
    err = (el.decode(q.elements) - v).abs()
    unsaturated = v.abs() <= el.max_normal
    assert (err[unsaturated] <= step[unsaturated] / 2).all()


@pytest.mark.parametrize("name", MX)
@given(x=tensors)
def test_fake_quantize_equals_dequantize_of_codes(name, x):
    fmt = get_format(name)
    q = fmt.quantize(x)
    assert torch.equal(q.dequantize(), fmt.fake_quantize(x))
    # the exact integers the hardware multiplies give the same values
    ints = q.integers().to(torch.float64) * 2.0**fmt.element.lsb_exp
    assert torch.equal(ints.to(torch.float32), fmt.element.decode(q.elements))


@pytest.mark.parametrize("name", MX)
def test_every_code_decodes_and_reencodes(name):
    el = get_format(name).element
    codes = torch.arange(1 << el.bits)
    codes = codes.to(torch.uint8) if hasattr(el, "mbits") else torch.where(codes >= 1 << (el.bits - 1), codes - (1 << el.bits), codes).to(torch.int8)
    values = el.decode(codes)
    ok = torch.isfinite(values)
    if not hasattr(el, "mbits"):
        ok &= codes != -(1 << (el.bits - 1))  # the asymmetric code is never produced
    assert torch.equal(el.encode(values[ok]).to(torch.int32) & ((1 << el.bits) - 1),
                       codes[ok].to(torch.int32) & ((1 << el.bits) - 1))
    assert torch.equal(el.round(values[ok]), values[ok])
