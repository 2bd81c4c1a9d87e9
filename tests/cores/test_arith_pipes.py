"""The narrow paths of the pipelined arithmetic blocks against their references, bit for bit.

cores/arith/tb/tb_arith_pipes.sv (self-checking, verilator --binary): mx_align_pipe (one left shift
of the kept bits, saturation from the significant bits, constant SH_OFF) against the combinational
mx_align; mx_quant_elem_pipe with BLOCK_MAX and SIGN_MAG (mx_quantize's mxint path) against its
generic path, on values below their block maximum's 2**p, random and edge cases.
"""

import subprocess

import pytest

from mase.cores import library_dir
from mase.eda import cache_dir
from mase.eda.runner import compiler_cache_env

CASES = [  # aligner IN_W, OUT_W, SH_OFF (mx_linear: S_W, ACC_W, SHIFT0); quantizer IN_W, IN_LSB, WIDTH
    dict(A_IN_W=13, A_OUT_W=32, SH_OFF=-238, Q_IN_W=36, Q_IN_LSB=-20, Q_WIDTH=4),   # mxint4 256x64
    dict(A_IN_W=21, A_OUT_W=40, SH_OFF=-230, Q_IN_W=43, Q_IN_LSB=-24, Q_WIDTH=8),   # mxint8, wider
    dict(A_IN_W=4, A_OUT_W=9, SH_OFF=3, Q_IN_W=9, Q_IN_LSB=0, Q_WIDTH=6),           # narrow ends
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"al{c['A_IN_W']}x{c['A_OUT_W']}-q{c['Q_IN_W']}w{c['Q_WIDTH']}")
def test_arith_pipes(case):
    arith = library_dir() / "arith"
    tag = "-".join(f"{v}" for v in case.values())
    mdir = cache_dir() / f"tb_arith_pipes-{tag}"
    cmd = ["verilator", "--binary", "-Wall", "-Wno-fatal", "--Mdir", str(mdir), "--top-module", "tb_arith_pipes",
           "-o", "sim", "-MAKEFLAGS", "VM_PARALLEL_BUILDS=0 OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
           *[f"-G{k}={v}" for k, v in case.items()], str(arith / "tb" / "tb_arith_pipes.sv"),
           *sorted(str(f) for f in (arith / "rtl").glob("*.sv"))]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env=compiler_cache_env())
    out = subprocess.run([str(mdir / "sim")], check=True, capture_output=True, text=True, timeout=120).stdout
    assert "PASS" in out, out[-2000:]
