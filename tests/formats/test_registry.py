import pytest
import torch

from mase.formats import FORMAT_NAMES, get_format

MX_NAMES = [f"mxint{m}" for m in range(2, 9)] + [
    "mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1"]


@pytest.mark.parametrize("name", MX_NAMES)
@pytest.mark.parametrize("k", [8, 16, 32, 64])
def test_mx_bits_per_element_include_scale(name, k):
    fmt = get_format(name, block_size=k)
    assert fmt.bits_per_element == fmt.element.bits + 8 / k


def test_documented_bits():
    assert get_format("mxint4").bits_per_element == 4.25
    assert get_format("mxfp8").bits_per_element == 8.25
    assert get_format("fixed8").bits_per_element == 8
    assert get_format("fixed16_8").bits_per_element == 16
    assert get_format("bf16").bits_per_element == 16
    assert get_format("fp32").bits_per_element == 32


@pytest.mark.parametrize("alias,name", [("mxfp8", "mxfp8_e4m3"), ("mxfp6", "mxfp6_e2m3"), ("mxfp4", "mxfp4_e2m1")])
def test_aliases(alias, name):
    assert get_format(alias) == get_format(name)


def test_every_listed_name_resolves():
    for name in FORMAT_NAMES:
        get_format("fixed16_8" if name == "fixedW_F" else name)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="valid names are .*mxint4.*mxfp8"):
        get_format("mxint9")


@pytest.mark.parametrize("k", [0, 4, 31, 128])
def test_bad_block_size(k):
    with pytest.raises(ValueError, match="8, 16, 32, 64"):
        get_format("mxint4", block_size=k)


def test_bad_axis_lists_valid_axes():
    with pytest.raises(ValueError, match=r"axis 2 out of range.*\[-2, -1, 0, 1\]"):
        get_format("mxint4").quantize(torch.zeros(2, 3), axis=2)


@pytest.mark.parametrize("name", ["mxint4", "mxfp4", "fixed8", "bf16", "fp32"])
def test_non_float_input_rejected(name):
    with pytest.raises(ValueError, match="floating-point"):
        get_format(name).fake_quantize(torch.arange(8))
    with pytest.raises(ValueError, match="floating-point"):
        get_format(name).quantize([1.0, 2.0])


def test_bad_fixed_width():
    with pytest.raises(ValueError, match="width must be 2..32"):
        get_format("fixed40_8")
