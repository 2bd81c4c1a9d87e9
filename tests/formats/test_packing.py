import pytest
import torch

from mase.formats import get_format, pack_elements, pack_scales, to_hex_lines, unpack_elements, unpack_scales


@pytest.mark.parametrize("name", ["mxint2", "mxint3", "mxint4", "mxint8", "mxfp4", "mxfp6_e3m2", "mxfp8_e5m2"])
@pytest.mark.parametrize("lanes", [1, 4, 8, 32])
def test_round_trip_is_exact(name, lanes):
    torch.manual_seed(lanes)
    fmt = get_format(name)
    q = fmt.quantize(torch.randn(5, 96) * 3)
    words = pack_elements(q, lanes)
    assert words.shape == (q.elements.numel() // lanes, -(-lanes * fmt.element.bits // 8))
    assert torch.equal(unpack_elements(words, fmt, lanes, q.elements.shape), q.elements)
    sw = pack_scales(q, per_word=3)
    assert torch.equal(unpack_scales(sw, q.scales.shape, per_word=3), q.scales)


def test_documented_layout_lane0_in_lsbs():
    fmt = get_format("mxint4")
    x = torch.zeros(32)
    x[:4] = torch.tensor([1.0, -0.25, 0.5, 1.75])  # max 1.75: scale 2**0, codes 4, -1, 2, 7
    q = fmt.quantize(x)
    assert q.elements[0, :4].tolist() == [4, -1, 2, 7]
    words = pack_elements(q, lanes=4)
    assert to_hex_lines(words[:1]) == "72f4\n"  # lane 3 .. lane 0, most significant digit first


def test_hex_width_trims_to_word_bits():
    q = get_format("mxfp6").quantize(torch.ones(32))
    words = pack_elements(q, lanes=2)  # 12-bit words in 2 bytes
    line = to_hex_lines(words, width_bits=12).splitlines()[0]
    assert len(line) == 3


def test_lanes_must_divide_block():
    q = get_format("mxint4").quantize(torch.ones(32))
    with pytest.raises(ValueError, match="must divide the block size 32"):
        pack_elements(q, lanes=3)
