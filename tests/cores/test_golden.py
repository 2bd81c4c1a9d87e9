"""The golden model of the linear cores agrees with the numerics library and with exact arithmetic."""

import pytest
import torch

from mase.formats import get_format
from mase.golden import AccSpec, align, linear, linear_acc, quantize_bias, requantize

FMTS = ["mxint2", "mxint4", "mxint8", "mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2"]


@pytest.mark.parametrize("name", FMTS)
@pytest.mark.parametrize("lsb", [-140, -20, 0, 90])
def test_requantize_equals_numerics_library(name, lsb):
    """For |A| < 2**24 (exact in float32), integer re-quantization == mase.formats on A * 2**lsb."""
    g = torch.Generator().manual_seed(len(name) + lsb)
    a = (torch.randn(128, 32, generator=g) * torch.exp2(torch.randint(-4, 22, (128, 1), generator=g).float())).round()
    a = a.clamp(-(2**24 - 1), 2**24 - 1).to(torch.int64)
    a[0] = 0
    a[1, 1:] = 0
    a[2] = torch.arange(32) * 2 + 1  # ties
    a[3] = -a[3].abs()
    codes, scales = requantize(a, lsb, name, 32)
    q = get_format(name, 32).quantize(a.double().mul(2.0**lsb).float())
    assert torch.equal(scales.to(torch.uint8), q.scales)
    assert torch.equal(codes.to(q.elements.dtype), q.elements)


def test_align_floor_and_saturation():
    s = torch.tensor([5, -5, 7, -7, 1, -1, 0, 3])
    d = torch.tensor([-1, -1, 0, 0, 40, 40, 40, 2])
    assert align(s, d, 8).tolist() == [2, -3, 7, -7, 127, -128, 0, 12]


def test_linear_is_exact_without_truncation():
    """With a fine enough accumulator LSB the hardware sum equals the exact product of the MX values."""
    g = torch.Generator().manual_seed(0)
    x = get_format("mxfp4", 32).quantize(torch.randn(5, 128, generator=g))
    w = get_format("mxint8", 32).quantize(torch.randn(48, 128, generator=g) * 0.05)
    acc = AccSpec(lsb=-40, width=60)
    b = quantize_bias(torch.randn(48, generator=g), acc)
    got = linear_acc(x, w, b, acc).double() * 2.0**acc.lsb
    ref = x.dequantize().double() @ w.dequantize().double().T + b.double() * 2.0**acc.lsb
    assert torch.equal(got, ref)
    y = linear(x, w, b, acc, "mxint8", 32)
    assert y.elements.shape == (5, 2, 32)  # 48 outputs padded to two blocks of 32
    assert torch.allclose(y.dequantize().double(), get_format("mxint8", 32).fake_quantize(ref.float()).double())


def test_order_independence():
    """Permuting the blocks of the reduction does not change the result."""
    g = torch.Generator().manual_seed(1)
    fmt = get_format("mxint4", 16)
    xf, wf = torch.randn(3, 128, generator=g), torch.randn(8, 128, generator=g)
    acc = AccSpec(-8, 20)
    perm = torch.randperm(8, generator=g)
    permute = lambda t: t.view(t.shape[0], 8, 16)[:, perm].reshape(t.shape[0], 128)
    a = linear_acc(fmt.quantize(xf), fmt.quantize(wf), None, acc)
    b = linear_acc(fmt.quantize(permute(xf)), fmt.quantize(permute(wf)), None, acc)
    assert torch.equal(a, b)
