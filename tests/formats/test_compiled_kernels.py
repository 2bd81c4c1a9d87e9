"""The fused torch.compile kernels compute the same bits as eager torch."""

import math

import pytest
import torch

from mase.formats import get_format, kernels

NAMES = ["mxint4", "mxint8", "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1", "fixed8", "fixed16_8", "bf16"]


def nasty_tensor(rows: int) -> torch.Tensor:
    torch.manual_seed(0)
    x = torch.randn(rows, 256) * torch.exp2(torch.randint(-140, 60, (rows, 1)).float())
    x[0, :32] = 0
    x[1, 3] = math.nan
    x[2, 7] = math.inf
    x[3, :] = torch.nextafter(torch.tensor(4.0), torch.tensor(0.0))
    x[4, :] = -0.0
    return x


@pytest.mark.parametrize("name", NAMES)
def test_compiled_equals_eager(name, monkeypatch):
    x = nasty_tensor(kernels.COMPILE_MIN_NUMEL // 256 + 8)
    fmt = get_format(name)
    compiled = fmt.fake_quantize(x)
    assert not kernels._failed, "torch.compile failed on this machine"
    monkeypatch.setenv("MASE_EAGER", "1")
    eager = fmt.fake_quantize(x)
    assert torch.equal(torch.isnan(compiled), torch.isnan(eager))
    finite = ~torch.isnan(eager)
    assert torch.equal(compiled[finite], eager[finite])
    assert torch.equal(torch.signbit(compiled[finite]), torch.signbit(eager[finite]))
