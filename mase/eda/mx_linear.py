"""Parameters, memory images and stream beats of the `mx_linear` / `mx_matmul` cores.

    >>> from mase.eda.mx_linear import linear_params, write_linear_images, input_beats, decode_output
    >>> p = linear_params(64, 32, x_format="mxint4", w_format="mxint4", o_format="mxint4", k=16,
    ...                   in_par=4, out_par=4, acc=AccSpec(-20, 32), files_dir="/tmp/layer0")
    >>> write_linear_images(p, w_q, bias_int)         # weights.hex, scales.hex, bias.hex ($readmemh)
    >>> beats = input_beats(p, x_q)                   # ints for the in_data port
    >>> codes, scales = decode_output(p, out_beats, n_vectors)

Word layouts (lane 0 in the least significant bits, as mase.formats.packing):
- weights ROM, address rg*BEATS + j (rg = row group of OUT_PAR rows, j = beat of IN_PAR elements):
  OUT_PAR fields of IN_PAR element codes, field p = row rg*OUT_PAR + p;
- scales ROM, address rg*NB + b: OUT_PAR scale bytes, byte p = row rg*OUT_PAR + p, block b;
- bias ROM, address rg: OUT_PAR signed ACC_W-bit integers at 2**ACC_LSB;
- streamed weights (W_SOURCE = 1): beat = {scales word, weights word} in ROM address order;
- the compact off-chip weight stream in front of it (mx_wstream_unpack, compact_weight_stream): per row
  group and input block, OUT_PAR scale bytes then K/IN_PAR element fields, a bit stream in IN_BYTES beats.

Sizes that are not whole blocks are zero-padded, as the MX numerics pad them: IN_FEATURES and
OUT_FEATURES are the layer's sizes rounded up to whole K / K_OUT blocks; the input stream carries the
padded vector (zeros after the last feature), the padded weight rows and columns, their scale bytes
and the padded bias are zero, so the padded outputs are exact zeros in whole output blocks (which
never change a block's shared scale); the consumer drops them (mx_dequantize SEG/SEG_PAD).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mase.golden import AccSpec, elem_spec
from mase.golden.linear import _blocks_of

FORMAT_PARAMS = {  # name -> (WIDTH, EBITS)
    **{f"mxint{m}": (m, 0) for m in range(2, 9)},
    "mxfp8_e4m3": (8, 4), "mxfp8": (8, 4), "mxfp8_e5m2": (8, 5), "mxfp6_e3m2": (6, 3),
    "mxfp6_e2m3": (6, 2), "mxfp6": (6, 2), "mxfp4_e2m1": (4, 2), "mxfp4": (4, 2), "fixed8": (8, 0),
}


def format_params(name: str) -> tuple[int, int]:
    try:
        return FORMAT_PARAMS[name]
    except KeyError:
        raise ValueError(f"format {name!r} has no MX core mapping: choose one of {', '.join(FORMAT_PARAMS)}") from None


def linear_params(in_features: int, out_features: int, *, x_format: str, w_format: str, o_format: str,
                  k: int = 32, k_out: int | None = None, in_par: int = 4, out_par: int = 4,
                  acc: AccSpec = AccSpec(), has_bias: bool = True, x_scale: int | None = None,
                  w_scale: int | None = None, o_scale: int | None = None, w_source: int = 0,
                  files_dir: str | Path | None = None) -> dict:
    """The vlogparams of mx_linear; *_scale are the constant scale bytes of fixed8 operands."""
    k_out = k_out or k
    checks = [(k % in_par == 0, f"IN_PAR={in_par} must divide K={k}"),
              (k_out % out_par == 0, f"OUT_PAR={out_par} must divide K_OUT={k_out}")]
    for ok, msg in checks:
        if not ok:
            raise ValueError(msg)
    in_features, out_features = padded(in_features, k), padded(out_features, k_out)
    for name, fmt, sc in (("x", x_format, x_scale), ("w", w_format, w_scale), ("o", o_format, o_scale)):
        if (fmt == "fixed8") != (sc is not None):
            raise ValueError(f"{name}_scale is required for, and only for, a fixed8 {name} operand")
    (xw, xe), (ww, we), (ow, oe) = map(format_params, (x_format, w_format, o_format))
    p = {"IN_FEATURES": in_features, "OUT_FEATURES": out_features, "K": k, "K_OUT": k_out,
         "IN_PAR": in_par, "OUT_PAR": out_par,
         "X_WIDTH": xw, "X_EBITS": xe, "X_FIXED_SCALE": -1 if x_scale is None else x_scale,
         "W_WIDTH": ww, "W_EBITS": we, "W_FIXED_SCALE": -1 if w_scale is None else w_scale,
         "O_WIDTH": ow, "O_EBITS": oe, "O_FIXED_SCALE": -1 if o_scale is None else o_scale,
         "ACC_LSB": acc.lsb, "ACC_W": acc.width, "HAS_BIAS": int(has_bias), "W_SOURCE": w_source}
    if files_dir is not None:
        d = Path(files_dir).resolve()
        if w_source == 0:
            p.update(W_FILE=str(d / "weights.hex"), S_FILE=str(d / "scales.hex"))
        if has_bias:
            p["B_FILE"] = str(d / "bias.hex")
    return p


def padded(n: int, k: int) -> int:
    """n rounded up to whole blocks of k."""
    return -(-n // k) * k


def pad_weights(p: dict, codes: torch.Tensor, scales: torch.Tensor, bias=None):
    """Weights (codes (out, nb, k), scale bytes (out, nb)) and bias (out,) zero-padded to the core's
    OUT_FEATURES rows and IN_FEATURES / K blocks (a zero block's scale byte is 0)."""
    o, nb, k = codes.shape
    ro, rb = p.get("OUT_FEATURES", o) - o, p.get("IN_FEATURES", nb * k) // p["K"] - nb
    if k != p["K"] or ro < 0 or rb < 0:
        raise ValueError(f"weights of {o} rows x {nb} blocks of {k} do not fit the core's "
                         f"{p['OUT_FEATURES']} x {p['IN_FEATURES']} (K={p['K']})")
    pad = torch.nn.functional.pad
    codes, scales = pad(codes, (0, 0, 0, rb, 0, ro)), pad(scales, (0, rb, 0, ro))
    return codes, scales, (None if bias is None else pad(bias, (0, ro)))


def pack_words(fields: np.ndarray, bits: int) -> list[str]:
    """Rows of integer fields -> hex words (field 0 in the least significant bits), MSB first."""
    fields = np.asarray(fields, dtype=np.int64) & ((1 << bits) - 1)
    n, f = fields.shape
    bitarr = ((fields[:, :, None] >> np.arange(bits, dtype=np.int64)) & 1).astype(np.uint8).reshape(n, f * bits)
    digits = -(-(f * bits) // 4)
    pad = digits * 4 - f * bits
    if pad:
        bitarr = np.concatenate([bitarr, np.zeros((n, pad), np.uint8)], 1)
    nib = (bitarr.reshape(n, digits, 4) * np.array([1, 2, 4, 8], np.uint8)).sum(-1)[:, ::-1]
    chars = np.array(list("0123456789abcdef"))[nib]
    return ["".join(r) for r in chars]


def weight_words(p: dict, w_codes: torch.Tensor, w_scales: torch.Tensor, bias=None):
    """(weights words, scales words, bias words) as hex strings; w_codes (out, nb, k) raw codes
    (zero-padded to the core's sizes here)."""
    w_codes, w_scales, bias = pad_weights(p, w_codes, w_scales, bias)
    o, nb, k = w_codes.shape
    op, ip = p["OUT_PAR"], p["IN_PAR"]
    c = w_codes.to(torch.int64).reshape(o // op, op, nb * k // ip, ip).permute(0, 2, 1, 3)
    wwords = pack_words(c.reshape(-1, op * ip).numpy(), p["W_WIDTH"])
    s = w_scales.to(torch.int64).reshape(o // op, op, nb).permute(0, 2, 1)
    swords = pack_words(s.reshape(-1, op).numpy(), 8)
    bwords = None
    if bias is not None:
        lim = 1 << (p["ACC_W"] - 1)
        b = bias.to(torch.int64).clamp(-lim, lim - 1).reshape(o // op, op)
        bwords = pack_words(b.numpy(), p["ACC_W"])
    return wwords, swords, bwords


def _raw_codes(q, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(m-bit element codes as the RTL reads them, scale bytes) of a QuantizedTensor.

    The golden model's exact integers equal the codes for integer elements only; a minifloat's
    code is its bit pattern (mxfp4 -6.0 is 0b1111, whose integer is -12).
    """
    ints, scales, spec = _blocks_of(q, k, None)
    codes = ints if spec.is_int else q.elements.to(torch.int64)
    return codes & ((1 << spec.width) - 1), scales


def _weights_of(p: dict, w) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(w, tuple):
        return w
    return _raw_codes(w, p["K"])


def write_linear_images(p: dict, w, bias=None) -> None:
    """Write the ROM images named by p's W_FILE/S_FILE/B_FILE. `w` is a QuantizedTensor (out, in)
    or (codes (out, nb, k), scale bytes (out, nb)); bias int64 (out,) at 2**ACC_LSB (all padded with
    zeros to the core's sizes)."""
    codes, scales = _weights_of(p, w)
    if p["W_FIXED_SCALE"] >= 0:
        scales = torch.full_like(scales, p["W_FIXED_SCALE"])
    if p["HAS_BIAS"] and bias is None:
        bias = torch.zeros(codes.shape[0], dtype=torch.int64)
    ww, sw, bw = weight_words(p, codes, scales, bias if p["HAS_BIAS"] else None)
    for key, words in (("W_FILE", ww), ("S_FILE", sw), ("B_FILE", bw)):
        if key not in p:
            continue
        Path(p[key]).parent.mkdir(parents=True, exist_ok=True)
        Path(p[key]).write_text("".join(x + "\n" for x in (words or ["0"])))


def weight_stream_beats(p: dict, w, n_vectors: int) -> list[int]:
    """w_data beats for W_SOURCE = 1: the ROM words, {scales, weights}, once per input vector."""
    codes, scales = _weights_of(p, w)
    ww, sw, _ = weight_words(p, codes, scales)  # padded to the core's sizes
    wbits = p["OUT_PAR"] * p["IN_PAR"] * p["W_WIDTH"]
    nb = p["IN_FEATURES"] // p["K"]
    bpb = p["K"] // p["IN_PAR"]
    beats_per_rg = p["IN_FEATURES"] // p["IN_PAR"]
    one = []
    for a, word in enumerate(ww):
        rg, j = divmod(a, beats_per_rg)
        s = int(sw[rg * nb + j // bpb], 16)
        one.append(int(word, 16) | (s << wbits))
    return one * n_vectors


def wstream_port_bytes(out_par: int, in_par: int, w_width: int, k: int, has_scale: bool = True) -> int:
    """Bytes per beat of the compact off-chip weight stream (mx_wstream_unpack IN_BYTES): the fewest whole
    bytes that carry a block (OUT_PAR scale bytes, then K/IN_PAR element fields of OUT_PAR x IN_PAR x
    W_WIDTH bits) within its K/IN_PAR words, so the unpacker can give mx_linear one word a cycle."""
    block_bits = (8 * out_par if has_scale else 0) + k * out_par * w_width
    return -(-block_bits // (8 * (k // in_par)))


def wstream_params(p: dict) -> dict:
    """mx_wstream_unpack's parameters in front of an mx_linear with parameters p (W_SOURCE 1)."""
    has_scale = int(p.get("W_FIXED_SCALE", -1) < 0)
    return {"OUT_PAR": p["OUT_PAR"], "IN_PAR": p["IN_PAR"], "W_WIDTH": p["W_WIDTH"], "K": p["K"], "HAS_SCALE": has_scale,
            "GROUPS": (p["OUT_FEATURES"] // p["OUT_PAR"]) * (p["IN_FEATURES"] // p["K"]),
            "IN_BYTES": wstream_port_bytes(p["OUT_PAR"], p["IN_PAR"], p["W_WIDTH"], p["K"], bool(has_scale))}


def compact_weight_stream(p: dict, codes: torch.Tensor, scales: torch.Tensor) -> bytes:
    """One matrix (an input vector's weights) in the compact off-chip format of mx_wstream_unpack: per
    row group and input block, OUT_PAR scale bytes (none for fixed8 weights, W_FIXED_SCALE >= 0), then
    its K/IN_PAR element fields (mx_linear's w_data element field: OUT_PAR x IN_PAR codes, lane 0 first),
    a bit stream least significant bit first, zero-padded to whole IN_BYTES beats. codes (out, nb, k)
    raw codes and scales (out, nb) bytes, both padded to the core's sizes."""
    op, ip, ww, k = p["OUT_PAR"], p["IN_PAR"], p["W_WIDTH"], p["K"]
    has_scale = p.get("W_FIXED_SCALE", -1) < 0
    o, nb, _ = codes.shape
    e = (codes.to(torch.int64) & ((1 << ww) - 1)).reshape(o // op, op, nb, k // ip, ip)
    e = e.permute(0, 2, 3, 1, 4).reshape(o // op, nb, k * op).numpy()  # (row group, block, fields in order)
    s = scales.to(torch.int64).reshape(o // op, op, nb).permute(0, 2, 1).numpy().astype(np.uint8)
    if ww in (4, 8):  # whole bytes: nibbles low first, as the bit stream
        eb = (e[..., 0::2] | (e[..., 1::2] << 4)) if ww == 4 else e
        eb = eb.astype(np.uint8)
        raw = np.concatenate([s, eb], -1) if has_scale else eb
        data = raw.reshape(-1).tobytes()
    else:
        bits = ((e[..., None] >> np.arange(ww)) & 1).reshape(o // op, nb, -1).astype(np.uint8)
        if has_scale:
            bits = np.concatenate([((s[..., None] >> np.arange(8)) & 1).reshape(o // op, nb, -1).astype(np.uint8), bits], -1)
        data = np.packbits(bits.reshape(-1), bitorder="little").tobytes()  # a whole number of bytes (K x W)
    beat = wstream_port_bytes(op, ip, ww, k, has_scale)
    return data + bytes(-len(data) % beat)


def input_beats(p: dict, x, width_key: str = "X_WIDTH", par_key: str = "IN_PAR") -> list[int]:
    """in_data beats of vectors x: QuantizedTensor (T, in) or (codes (T, nb, k), scale bytes (T, nb))."""
    if isinstance(x, tuple):
        codes, scales = x
    else:
        codes, scales = _raw_codes(x, p["K"])
    width, par = p[width_key], p[par_key]
    k = codes.shape[-1]
    c = codes.to(torch.int64).reshape(-1, k // par, par)
    s = scales.to(torch.int64).reshape(-1, 1).expand(-1, k // par).reshape(-1, 1)
    words = pack_words(np.concatenate([c.reshape(-1, par).numpy(), np.zeros((c.shape[0] * c.shape[1], 0), np.int64)], 1), width)
    return [int(wd, 16) | (int(sc) << (par * width)) for wd, sc in zip(words, s.reshape(-1).tolist())]


def expected_output_beats(p: dict, codes: torch.Tensor, scales: torch.Tensor) -> list[int]:
    """out_data beats of re-quantized outputs: codes (T, out/k_out, k_out), scale bytes (T, out/k_out)."""
    return input_beats({"K": p["K_OUT"], "W": p["O_WIDTH"], "P": p["OUT_PAR"]},
                       (codes & ((1 << p["O_WIDTH"]) - 1), scales), "W", "P")
