"""Hand-computed cases for the conventions in shared/MX_NUMERICS.md."""

import math

import pytest
import torch

from mase.formats import get_format

ALL_MX = [f"mxint{m}" for m in range(2, 9)] + ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1"]
FP_MX = [n for n in ALL_MX if "fp" in n]


def block(*values, k=32):
    x = torch.zeros(k)
    x[: len(values)] = torch.tensor(values)
    return x


@pytest.mark.parametrize("name", ALL_MX)
def test_all_zero_block(name):
    q = get_format(name).quantize(torch.zeros(2, 32))
    assert (q.scales == 0).all() and (q.elements == 0).all()
    assert (q.dequantize() == 0).all()


@pytest.mark.parametrize("name", ALL_MX)
@pytest.mark.parametrize("special", [math.nan, math.inf, -math.inf])
def test_nan_inf_poison_only_their_block(name, special):
    x = torch.ones(2, 32)
    x[0, 5] = special
    fmt = get_format(name)
    q = fmt.quantize(x)
    assert q.scales[0, 0] == 0xFF and q.scales[1, 0] == 127 - fmt.element.emax
    y = q.dequantize()
    assert torch.isnan(y[0]).all() and (y[1] == 1).all()
    assert torch.equal(torch.isnan(fmt.fake_quantize(x)), torch.isnan(y))


def test_mxint4_ties_to_even():
    # max 1.5 -> shared exponent 0, grid step 0.25: 0.125 and 0.625 are ties
    x = block(1.5, 0.125, 0.375, 0.625, -0.125, -0.375)
    y = get_format("mxint4").fake_quantize(x)
    assert y[:6].tolist() == [1.5, 0.0, 0.5, 0.5, -0.0, -0.5]


def test_mxfp4_ties_to_even():
    # max 6 -> shared exponent 0; FP4 grid 0, .5, 1, 1.5, 2, 3, 4, 6
    x = block(6.0, 2.5, 3.5, 5.0, 0.25, 0.75, 1.25)
    y = get_format("mxfp4").fake_quantize(x)
    assert y[:7].tolist() == [6.0, 2.0, 4.0, 4.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("name,big,expected", [
    ("mxfp4", 7.9, 6.0),          # floor(log2 7.9) = 2 -> scale 1, 7.9 saturates to 6
    ("mxfp8_e4m3", 500.0, 448.0),
    ("mxfp8_e5m2", 65000.0, 57344.0),  # saturates, never Inf
    ("mxint8", 1.999, 127 / 64),
    ("mxint4", 1.99, 1.75),
])
def test_saturation_keeps_sign(name, big, expected):
    y = get_format(name).fake_quantize(block(big, -big))
    assert y[0].item() == expected and y[1].item() == -expected


@pytest.mark.parametrize("name", ALL_MX)
def test_value_ulps_below_power_of_two_gets_the_floor_exponent(name):
    below = torch.nextafter(torch.tensor(4.0), torch.tensor(0.0)).item()
    fmt = get_format(name)
    q = fmt.quantize(block(below))
    assert q.scales[0].item() == 127 + 1 - fmt.element.emax


def test_mxint8_symmetric_never_minus_two():
    q = get_format("mxint8").quantize(block(-2.0, 1.0))  # scale 2**1: -2 -> -1.0 exactly, code -64
    assert q.elements.min() >= -127
    q = get_format("mxint8").quantize(block(-1.99999, 0.5))
    assert q.elements.min() == -127


def test_fp32_subnormals():
    tiny = 2.0**-140
    x = block(tiny, 3 * tiny, -tiny)
    q = get_format("mxfp8_e5m2").quantize(x)
    assert q.scales[0].item() == 0  # 2**-127, the E8M0 floor
    assert q.dequantize()[:3].tolist() == [tiny, 3 * tiny, -tiny]  # E5M2 reaches 2**-16 * 2**-127
    assert (get_format("mxfp4").fake_quantize(x) == 0).all()


def test_scale_byte_zero_decodes_as_subnormal():
    x = block(2.0**-127 * 1.5)
    y = get_format("mxint8").fake_quantize(x)
    assert y[0].item() == 2.0**-127 * 1.5


@pytest.mark.parametrize("name", FP_MX)
def test_negative_zero_stays_negative_in_minifloats(name):
    y = get_format(name).fake_quantize(block(1.0, -0.0, -1e-30))
    assert torch.signbit(y[1]) and torch.signbit(y[2]) and y[2] == 0
    allneg = get_format(name).quantize(torch.full((32,), -0.0))
    assert allneg.scales[0] == 0 and torch.signbit(allneg.dequantize()).all()


def test_mxint_has_no_negative_zero():
    y = get_format("mxint4").fake_quantize(block(1.0, -0.0, -0.01))
    assert not torch.signbit(y[1]) and not torch.signbit(y[2])


@pytest.mark.parametrize("name", ["mxint4", "mxfp6", "mxfp8_e5m2"])
@pytest.mark.parametrize("n", [1, 5, 31, 33, 70])
def test_length_not_multiple_of_k_is_zero_padded(name, n):
    torch.manual_seed(n)
    x = torch.randn(3, n) * 10
    fmt = get_format(name)
    y = fmt.fake_quantize(x)
    assert y.shape == x.shape
    for start in range(0, n, 32):
        piece = x[:, start:start + 32]
        assert torch.equal(y[:, start:start + 32], fmt.fake_quantize(piece))
    q = fmt.quantize(x)
    assert q.elements.shape == (3, math.ceil(n / 32), 32)
    assert torch.equal(q.dequantize(), y)


@pytest.mark.parametrize("name", ["mxint4", "mxfp4", "fixed8", "bf16", "fp32"])
@pytest.mark.parametrize("shape,axis", [((0,), 0), ((3, 0), -1), ((0, 5), 0), ((0, 5), 1), ((), 0)])
def test_empty_and_scalar_tensors(name, shape, axis):
    x = torch.randn(shape)
    fmt = get_format(name)
    assert fmt.fake_quantize(x, axis=axis).shape == x.shape
    assert fmt.quantize(x, axis=axis).dequantize().shape == x.shape


@pytest.mark.parametrize("name", ["mxint4", "mxfp8"])
def test_axis_selects_block_direction(name):
    x = torch.randn(64, 3, 5)
    fmt = get_format(name)
    a = fmt.fake_quantize(x, axis=0)
    b = fmt.fake_quantize(x.movedim(0, -1).contiguous(), axis=-1).movedim(-1, 0)
    assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_dtype_preserved(dtype):
    x = torch.randn(4, 32).to(dtype)
    for name in ["mxint8", "mxfp4", "fixed8", "bf16"]:
        assert get_format(name).fake_quantize(x).dtype == dtype


def test_fixed8_per_tensor_power_of_two_scale():
    x = torch.tensor([3.0, -1.0, 0.01, 0.3])
    q = get_format("fixed8").quantize(x)
    # max 3 -> floor(log2) = 1 -> codes are Q1.6 times 2**1: step 2**-5
    assert q.scales.tolist() == [127 - 5]
    assert q.elements.tolist() == [96, -32, 0, 10]
    assert get_format("fixed8").fake_quantize(x).tolist() == [3.0, -1.0, 0.0, 0.3125]


def test_fixed_w_f_saturates_and_maps_nan_to_zero():
    fmt = get_format("fixed8_4")
    y = fmt.fake_quantize(torch.tensor([100.0, -100.0, math.inf, math.nan, 0.03125, 0.09375]))
    assert y.tolist() == [127 / 16, -127 / 16, 127 / 16, 0.0, 0.0, 0.125]  # ties to even


def test_bf16_rounds_to_nearest_even():
    x = torch.tensor([1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8])
    assert get_format("bf16").fake_quantize(x).tolist() == [1.0, 1.0 + 2.0**-6]
    assert torch.equal(get_format("fp32").fake_quantize(x), x)
