"""The compiled simulation model is shared by every run of the same RTL: the ROM images are read with
$readmemh at start, so other weights (another seed, GPTQ, a rotation) reuse the executable and stay
bit-exact, while any change to the RTL compiles a new one."""

from __future__ import annotations

from pathlib import Path

from mase.config import compose
from mase.eda.verilator import _rtl_digest
from mase.pipeline import run


def _emit(tmp_path: Path, seed: int, *extra: str) -> Path:
    cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "model.tiny.num_layers=1",
                   f"model.tiny.seed={seed}", *extra])
    run(cfg, tmp_path, stages=["emit"])
    return tmp_path / "hw"


def test_rtl_digest_ignores_the_weights_but_not_the_rtl(tmp_path):
    a, b = _emit(tmp_path / "a", 0), _emit(tmp_path / "b", 1)
    assert (a / "mem" / "l0_mlp_up_proj.w.hex").read_text() != (b / "mem" / "l0_mlp_up_proj.w.hex").read_text()
    assert _rtl_digest(a) == _rtl_digest(b)
    c = _emit(tmp_path / "c", 0, "hw.prompt_tokens=16")  # another prompt length: other RTL
    assert _rtl_digest(c) != _rtl_digest(a)


def test_other_weights_reuse_the_model_and_stay_bit_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("MASE_EDA_CACHE", str(tmp_path / "eda"))
    for seed in (0, 1):
        cfg = compose(["+model=tiny-llama", "quant=mxint4", "target=sim", "model.tiny.num_layers=1",
                       f"model.tiny.seed={seed}"])
        ctx = run(cfg, tmp_path / f"s{seed}", stages=["emit", "sim"])
        assert ctx.results["sim"]["bit_exact"], ctx.results["sim"]
    logs = [(tmp_path / f"s{s}" / "build" / "sim_hw" / "build.log").read_text() for s in (0, 1)]
    assert "Building simulation model" in logs[0] and "Building simulation model" not in logs[1]
    assert len(list((tmp_path / "eda" / "gen-sim").glob("*/Vtb_*"))) == 1
