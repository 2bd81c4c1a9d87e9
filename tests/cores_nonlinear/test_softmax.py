"""mx_softmax (causal) against mase.golden.nonlinear.softmax_int, bit for bit."""

import pytest
import torch

from mase.eda import build_sim, lint
from mase.golden import nonlinear_tables as T
from mase.golden.nonlinear import SoftmaxConfig, causal_mask, softmax_int, softmax_log2e_q, split_scaling

from .util import check_runs, pack, rand_signed, unpack

CONFIGS = {  # lanes, n, pos_w, in_w, in_f, out_f, r_f, c (the exp unit computes exp(c (x - max)))
    "attention-formats": (1, 48, 16, 20, 10, 16, 20, 1.0),
    "narrow-4-lanes": (4, 32, 6, 12, 6, 12, 14, 1.0),
    "head-dim-32": (2, 48, 16, 20, 10, 16, 20, 32**-0.5 * 4),  # 1/sqrt(32) = 2**-2 / sqrt(2)
}


def test_rtl_constants_match_tables():
    assert (T.LOG2E_Q, T.LOG2E_F, T.EXP_LUT_BITS, T.EXP_F) == (23637, 14, 8, 16)
    assert softmax_log2e_q() == T.LOG2E_Q == SoftmaxConfig().log2e_q  # the RTL's default LOG2E_Q


@pytest.mark.parametrize("hd", [1, 2, 3, 4, 8, 16, 32, 64, 80, 96, 128, 256, 512])
def test_split_scaling(hd):
    """1/sqrt(hd) = 2**-s c, c in (0.5, 1] (exact), c = 1 for powers of 4; the multiplier fits 15 bits."""
    s, c = split_scaling(hd**-0.5)
    assert 2.0**-s * c == hd**-0.5 and 0.5 < c <= 1.0
    assert (c == 1.0) == (hd in (1, 4, 16, 64, 256))
    q = softmax_log2e_q(c)
    assert 0 < q < 1 << 15 and abs(q / 2**T.LOG2E_F - c * 1.4426950408889634) <= 2**-(T.LOG2E_F + 1)


def test_folded_factor_applied():
    """exp(c u) through the folded multiplier: softmax of x with c folded = softmax of c x."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(-8 << 10, 8 << 10, (64, 32), generator=gen)
    c = 32**-0.5 * 4
    y = softmax_int(x, None, SoftmaxConfig(log2e_q=softmax_log2e_q(c))).double() / 2**16
    ref = torch.softmax(x.double() / 2**10 * c, -1)
    assert (y - ref).abs().max() < 2e-3
    assert (softmax_int(x, None, SoftmaxConfig()).double() / 2**16 - ref).abs().max() > 2e-2  # c matters


@pytest.mark.slow
def test_softmax_lut_multipliers():
    # MASE_MUL_CHUNK as the iCE40 flows define it (mase.eda.nextpnr.PNR_DEFINES): 6-bit chunk products
    test_softmax("attention-formats", {"MASE_MUL_CHUNK": 6})


@pytest.mark.parametrize("name", list(CONFIGS))
def test_softmax(name, extra=None):
    lanes, n, pos_w, in_w, in_f, out_f, r_f, c = CONFIGS[name]
    gen = torch.Generator().manual_seed(n + lanes)
    rows = 16
    x = rand_signed(gen, (rows, n), in_w, min(in_w - 1, in_f + 3))
    x[1] = 0                                    # all equal
    x[2] = (1 << (in_w - 1)) - 1                # saturated
    x[3, ::2] = -((1 << (in_w - 1)) - 1)        # extreme spread: exp underflows to 0
    pos = torch.randint(0, n, (rows,), generator=gen)
    pos[:4] = torch.tensor([n - 1, 0, 5, n - 1])
    pos[4] = (1 << pos_w) - 1                   # beyond the row: nothing masked
    cfg = SoftmaxConfig(in_w, in_f, out_f, r_f, softmax_log2e_q(c))
    y = softmax_int(x, causal_mask(pos, n), cfg)
    nb = n // lanes
    xb = pack(x.reshape(rows * nb, lanes), in_w)
    beats = [w | (int(pos[i // nb]) << (lanes * in_w)) for i, w in enumerate(xb)]
    sim = build_sim("mase:mx:softmax", {"LANES": lanes, "N": n, "POS_W": pos_w, "IN_W": in_w, "IN_F": in_f,
                                        "OUT_F": out_f, "R_F": r_f, "LOG2E_Q": cfg.log2e_q, **(extra or {})})
    check_runs(sim, {"in": beats}, len(beats), pack(y.reshape(rows * nb, lanes), out_f + 1),
               {"in": pos_w + lanes * in_w}, full_rate=n // lanes >= r_f + 14)


def test_lint_folded_multiplier():
    lint("mase:mx:softmax", {"N": 64, "LANES": 2, "LOG2E_Q": softmax_log2e_q(96**-0.5 * 8)})


@pytest.mark.parametrize("q", [0, 1 << 16])
def test_bad_multiplier_is_an_elaboration_error(q):
    with pytest.raises(Exception, match="LOG2E_Q must be in 1..65535"):
        lint("mase:mx:softmax", {"N": 64, "LOG2E_Q": q})


def _recip_exhaustive(tmp_path, sw, qb, num_exp, bits=2):
    """mx_recip_serial (BITS quotient bits a cycle) against floor(2**NUM_EXP / S) for every S below 2**SW, in
    its own self-checking testbench (tb/tb_mx_recip_exh.sv, verilator --binary)."""
    import re
    import subprocess
    from pathlib import Path

    rtl = Path(__file__).resolve().parents[2] / "cores" / "softmax"
    subprocess.run(["verilator", "--binary", "--timing", "-O3", "-Wno-fatal", "-Wno-WIDTH", "--top-module",
                    "tb_mx_recip_exh", "-Mdir", str(tmp_path / "obj"), f"-GSW={sw}", f"-GQB={qb}", f"-GNUM_EXP={num_exp}",
                    f"-GBITS={bits}",
                    str(rtl / "tb" / "tb_mx_recip_exh.sv"), str(rtl / "rtl" / "mx_recip_serial.sv")],
                   check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "obj" / "Vtb_mx_recip_exh")], check=True, capture_output=True, text=True).stdout
    m = re.search(r"checked=(\d+) mismatches=(\d+) done_after=(\d+)", out)
    assert m and int(m[1]) == (1 << sw) - 1 and int(m[2]) == 0, out
    assert int(m[3]) == -(-qb // bits) + 2  # cycles from start to done


@pytest.mark.parametrize("sw,qb,num_exp,bits", [(12, 9, 20, 2), (12, 10, 20, 2), (14, 13, 24, 2), (12, 9, 20, 1)])
def test_recip_exhaustive(tmp_path, sw, qb, num_exp, bits):
    _recip_exhaustive(tmp_path, sw, qb, num_exp, bits)


@pytest.mark.slow
@pytest.mark.parametrize("sw,qb,num_exp", [(24, 21, 36), (23, 15, 30)])  # tiny-llama's softmax; narrow-4-lanes
def test_recip_exhaustive_generated(tmp_path, sw, qb, num_exp):
    _recip_exhaustive(tmp_path, sw, qb, num_exp)


def test_softmax_two_recip_bits():
    """RECIP_BITS 2 (opt-in: the reciprocal units find two quotient bits a cycle) is bit-exact too."""
    test_softmax("head-dim-32", {"RECIP_BITS": 2})
