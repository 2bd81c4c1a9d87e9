"""The RTL reads element bit patterns: the image/beat helpers must write codes, not exact integers."""

import pytest
import torch

from mase.eda.mx_linear import _raw_codes
from mase.formats import get_format


@pytest.mark.parametrize("name", ["mxfp4", "mxfp6_e3m2", "mxfp8", "mxint4", "mxint8"])
def test_raw_codes_are_the_element_bit_patterns(name):
    torch.manual_seed(0)
    fmt = get_format(name, 32)
    q = fmt.quantize(torch.randn(3, 64) * 4)
    codes, scales = _raw_codes(q, 32)
    mask = (1 << fmt.element.bits) - 1
    assert torch.equal(codes, q.elements.to(torch.int64) & mask)
    assert torch.equal(scales, q.scales.to(torch.int64))


def test_mxfp4_minus_six_is_code_15():
    q = get_format("mxfp4", 32).quantize(torch.tensor([[-6.0] + [1.0] * 31]))
    assert _raw_codes(q, 32)[0][0, 0, 0].item() == 0b1111
