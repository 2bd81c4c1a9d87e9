"""Bad inputs as a table (issue 16): each is one `mase: error:` line on stderr, exit status 2, no
traceback, before any work. Add a row for every new case.

Rows run `mase.cli.main` in-process (the checks run before Hydra starts; Hydra itself is replaced by a
stub that fails the row if a bad input got through); a few run the real `mase` process, including
the empty prompt that once hung. In the arguments, <tmp> is the test's folder, <file> a regular file,
<cfg> a folder of user configs (quant/my4.yaml: mxint4 by defaults, quant/full8.yaml: a whole config).
"""

from __future__ import annotations

import subprocess

import pytest

from mase import cli
from mase.config.validate import check_output_dir
from mase.config.errors import MaseError

T = ["+model=tiny-llama", "quant=mxint4"]
Q = "stages=[quantize,evaluate,report]"  # no hardware stages

# (arguments, exit code, fragments of the one error line)
BAD = [
    # defect 2: an empty prompt (looped forever in _prompt_ids)
    (T + ['hw.prompt=""', "stages=[quantize,emit]"], 2, ["hw.prompt is empty"]),
    # defect 5: values checked up front, each naming its range
    (T + ["hw.prompt_tokens=0"], 2, ["hw.prompt_tokens=0: must be between 1 and 1024"]),
    (T + ["hw.prompt_tokens=-3"], 2, ["hw.prompt_tokens=-3: must be between 1 and 1024"]),
    (T + ["hw.prompt_tokens=100000"], 2, ["hw.prompt_tokens=100000: must be between 1 and 1024"]),
    (T + ["hw.max_lanes=0"], 2, ["hw.max_lanes=0: must be at least 1"]),
    (T + ["hw.linear_out=foo", Q], 2, ["hw.linear_out='foo': choose one of mxint2"]),
    (T + ["hw.utilization=0"], 2, ["hw.utilization=0.0: must be greater than 0 and at most 100"]),
    (T + ["hw.utilization=1000"], 2, ["hw.utilization=1000.0: must be greater than 0 and at most 100"]),
    (T + ["hw.fifo_depth=0"], 2, ["hw.fifo_depth=0: must be between 1 and 65536"]),
    (T + ["hw.sim_layers=-1"], 2, ["hw.sim_layers=-1: must be between 0 and 2"]),
    (T + ["hw.sim_layers=3"], 2, ["hw.sim_layers=3: must be between 0 and 2"]),
    (T + ["hw.sim_seed=-1"], 2, ["hw.sim_seed=-1: must be at least 0"]),
    (T + ["hw.sim_stall=100"], 2, ["hw.sim_stall=100: must be between 0 and 99"]),
    (T + ["hw.sim_bp=-1"], 2, ["hw.sim_bp=-1: must be between 0 and 99"]),
    # layer reuse (hw.fold, mase/compiler/README.md "Layer reuse")
    (T + ["hw.fold=-1"], 2, ["hw.fold=-1: choose 0", "N >= 1"]),
    (T + ["hw.fold=3"], 2, ["hw.fold=3 does not divide the model's 2 decoder layers: choose one of 1, 2, or 0"]),
    (T + ["hw.fold=1", "hw.weights=onchip"], 2, ["hw.fold=1 streams every layer's weights", "hw.weights=offchip"]),
    (T + ["hw.decode_context=-1"], 2, ["hw.decode_context=-1: must be between 0 and 1024"]),
    (T + ["hw.synth_scope=all"], 2, ["hw.synth_scope='all': choose one of auto, top, nodes"]),
    (T + ["hw.pnr_scope=top"], 2, ["hw.pnr_scope='top': choose one of auto, design, nodes"]),
    (T + ["+hw.overrides={x:{in_par:3}}"], 2, ["hw.overrides['x'].in_par=3: choose one of 1, 2, 4"]),
    (T + ["+hw.overrides={x:{fifo_depth:3}}"], 2, ["fifo_depth=3: must be a power of two between 2"]),
    (T + ["+hw.overrides={x:{weights:ddr}}"], 2, ["weights='ddr': choose one of auto, bram, uram, spram, axi"]),
    (T + ["+hw.overrides={x:{bogus:1}}"], 2, ["unknown key 'bogus'", "in_par"]),
    (T + ["hw.overrides={x:{in_par:4}}"], 2, ["hw.overrides has no entry 'x'", "leading +"]),
    (T + ["+hw.overrides.x.in_par=4"], 2, ["give a whole entry of hw.overrides"]),
    (T + ["target.clock_mhz=0"], 2, ["target.clock_mhz=0.0: must be greater than 0"]),
    (T + ["target.clock_mhz=-5"], 2, ["target.clock_mhz=-5.0: must be greater than 0"]),
    (T + ["target.clock_mhz=nan"], 2, ["target.clock_mhz=nan: must be greater than 0"]),
    (T + ["target=u250", "target.resources.lut=-1"], 2, ["target.resources.lut=-1: must be at least 0"]),
    (T + ["target=u250", "target.resources.bram_kbit=0"], 2, ["target.resources.bram_kbit=0: must be at least 1"]),
    (T + ["target.offchip_bandwidth_gbps=-1"], 2, ["target.offchip_bandwidth_gbps=-1.0: must be at least 0"]),
    (T + ["target.kind=asic"], 2, ["target.kind='asic': choose one of sim, fpga"]),
    (T + ["model.tiny.num_heads=0"], 2, ["model.tiny.num_heads=0: must be at least 1"]),
    (T + ["model.tiny.hidden_size=65"], 2, ["hidden_size=65 is not a multiple of num_heads=4", "head_dim"]),
    (["+model=tiny-opt", "model.tiny.hidden_size=66"], 2, ["hidden_size=66 is not a multiple of num_heads=4"]),
    (T + ["model.tiny.num_layers=0"], 2, ["model.tiny.num_layers=0: must be at least 1"]),
    (T + ["model.tiny.num_kv_heads=3"], 2, ["num_kv_heads=3 must divide num_heads=4"]),
    (T + ["model.tiny.head_dim=7"], 2, ["head_dim=7 is odd"]),
    (T + ["model.tiny.vocab_size=100"], 2, ["model.tiny.vocab_size=100: must be at least 256"]),
    (T + ["model.tiny.rope_scaling={rope_type:foo}"], 2, ["rope_type 'foo' is unknown", "linear"]),
    (T + ["model.tiny.rope_scaling={rope_type:llama3,factor:2.0}"], 2, ["Missing required keys", "low_freq_factor"]),
    (T + ["model.tiny.rope_scaling={rope_type:linear,factor:0.5}"], 2, ["factor=0.5: must be a number, at least 1"]),
    (T + ["model.tiny.max_positions=16", "eval=quick"], 2, ["eval.window=128: must be at most"]),
    (T + ["threads=-1"], 2, ["threads=-1: must be at least 0"]),
    (T + ["seed=-1"], 2, ["seed=-1: must be at least 0"]),
    (T + ["eval.hardware_tokens=-1"], 2, ["eval.hardware_tokens=-1: must be at least 0"]),
    (T + ["eval.numerics=fast"], 2, ["eval.numerics='fast': choose one of auto, quantized, hardware, decode"]),
    (T + ["quant.calibration_tokens=1"], 2, ["quant.calibration_tokens=1: must be at least 2"]),
    # defect 6: the output folder, before Hydra creates it
    (T + ["hydra.run.dir=<file>/run"], 2, ["hydra.run.dir=", "<file> is a file, not a folder"]),
    (T + ["hydra.run.dir=<file>"], 2, ["<file> is a file, not a folder"]),
    (T + ["output.root=<file>/out"], 2, ["hydra.run.dir=<file>/out/tiny-llama/mxint4/", "is a file"]),
    (["-m", *T, "hydra.sweep.dir=<file>/sweep"], 2, ["hydra.sweep.dir=<file>/sweep", "is a file"]),
    (T + ["hydra.run.dir='<tmp>/a b'"], 2, ["the sim stage builds with GNU Make", "without spaces"]),
    # issue 15: user configs (--config-dir, hydra.searchpath); unknown names list the user's too
    (["--config-dir", "<cfg>", "+model=tiny-llama", "quant=my44"], 2, ["unknown quant config 'my44'", "mxint4", "my4"]),
    (["+model=tiny-llama", "quant=my44", "hydra.searchpath=[file://<cfg>]"], 2, ["unknown quant config 'my44'", "my4"]),
    (["+model=tiny-llama", "quant=my4"], 2, ["unknown quant config 'my4'", "mxint4"]),
    (["--config-dir", "<tmp>/nope", "+model=tiny-llama"], 2, ["--config-dir <tmp>/nope: no such folder"]),
    (["+model=tiny-llama", "hydra.searchpath=[file://<tmp>/nope]"], 2, ["file://<tmp>/nope: no such folder"]),
]

# accepted before Hydra starts (the stub records that it was reached)
GOOD = [
    ["--config-dir", "<cfg>", "+model=tiny-llama", "quant=my4"],
    ["-cd", "<cfg>", "+model=tiny-llama", "quant=full8"],
    ["--config-dir=<cfg>", "+model=tiny-llama", "quant=my4", "hydra.searchpath=[pkg://mase.conf]"],
    ["+model=tiny-llama", "quant=my4", "hydra.searchpath=[file://<cfg>]"],
    ["-m", "+model=tiny-llama", "quant=my4,mxint8", "hydra.searchpath=[file://<cfg>]"],
    ["-m", "+model=tiny-llama", "--config-dir", "<cfg>", "quant=my4,mxint8"],  # options after overrides
    T + [Q, "hydra.run.dir='<tmp>/a b'"],  # spaces are fine without the sim stage
    T + ["hw.sim_layers=2", "hydra.run.dir=<tmp>"],
]


def _subst(arg: str, tmp) -> str:
    return arg.replace("<file>", str(tmp / "file")).replace("<cfg>", str(tmp / "cfg")).replace("<tmp>", str(tmp))


@pytest.fixture
def world(tmp_path):
    (tmp_path / "file").write_text("not a folder\n")
    (tmp_path / "cfg" / "quant").mkdir(parents=True)
    (tmp_path / "cfg" / "quant" / "my4.yaml").write_text("defaults:\n  - mxint4\n  - _self_\nname: my4\n")
    (tmp_path / "cfg" / "quant" / "full8.yaml").write_text(
        "name: full8\nblock_size: 32\ndefault: {weight: mxint8, act: mxint8, bias: mxint8}\n")
    return tmp_path


class _Reached(Exception):
    pass


@pytest.fixture
def mase_inproc(world, monkeypatch, capsys):
    """main(args) up to the point Hydra would start: (exit code or 'hydra', stdout, stderr)."""
    monkeypatch.chdir(world)

    def hydra_stub(argv):
        raise _Reached

    monkeypatch.setattr(cli, "_hydra_main", hydra_stub)

    def run(args):
        try:
            cli.main([_subst(a, world) for a in args])
            code = 0
        except _Reached:
            code = "hydra"
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return run


def assert_one_line(res, code, fragments, tmp):
    text = res.stderr + res.stdout
    assert res.returncode == code, text
    assert "Traceback" not in text, text
    lines = [line for line in res.stderr.splitlines() if line.startswith("mase: error:")]
    assert len(lines) == 1, text
    for f in fragments:
        assert _subst(f, tmp) in lines[0], lines[0]


@pytest.mark.parametrize("args,code,fragments", BAD, ids=[" ".join(r[0][-2:])[:60] for r in BAD])
def test_bad_input_is_one_line(mase_inproc, world, args, code, fragments):
    assert_one_line(mase_inproc(args), code, fragments, world)
    assert not (world / "outputs").exists() and not (world / "multirun").exists()  # nothing written


@pytest.mark.parametrize("args", GOOD, ids=[" ".join(a[-2:])[:60] for a in GOOD])
def test_good_input_reaches_hydra(mase_inproc, args):
    res = mase_inproc(args)
    assert res.returncode == "hydra", res.stderr


def test_unwritable_folder_is_one_line(mase_inproc, world, monkeypatch):
    """Root writes anywhere, so the permission check is driven through os.access (the path it takes)."""
    import os

    locked = world / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(locked) else real(p, mode, **kw))
    for args in (T + ["hydra.run.dir=<tmp>/locked/run"], T + ["hydra.run.dir=<tmp>/locked"]):
        assert_one_line(mase_inproc(args), 2, ["cannot write in <tmp>/locked (permission denied)"], world)


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root ignores folder permissions")
def test_unwritable_folder_for_real(mase_inproc, world):
    locked = world / "locked"
    locked.mkdir(mode=0o555)
    try:
        assert_one_line(mase_inproc(T + ["hydra.run.dir=<tmp>/locked/run"]), 2, ["permission denied"], world)
    finally:
        locked.chmod(0o755)


def test_python_api_refuses_the_folder_too(world):
    with pytest.raises(MaseError, match="is a file, not a folder"):
        check_output_dir(world / "file" / "run", ["quantize"], "out_dir")
    with pytest.raises(MaseError, match="GNU Make"):
        check_output_dir(world / "a b", ["quantize", "emit", "sim"], "out_dir")
    check_output_dir(world / "a b", ["quantize", "emit", "lint"], "out_dir")


# real processes: the hang, and a folder Hydra itself met with a traceback
REAL = [
    (T + ['hw.prompt=""', "stages=[quantize,emit]", "hydra.run.dir=<tmp>/run"], 2, ["hw.prompt is empty"]),
    (T + ["hydra.run.dir=<file>/run"], 2, ["<file> is a file, not a folder"]),
]


@pytest.mark.parametrize("args,code,fragments", REAL, ids=[" ".join(r[0][-2:])[:60] for r in REAL])
def test_bad_input_real_process(world, cli, args, code, fragments):
    res = cli([_subst(a, world) for a in args], timeout=60)  # a hang fails here, not forever
    assert_one_line(res, code, fragments, world)
    assert not (world / "run").exists()


@pytest.mark.slow  # ~7 s on idle cores, over 10 s on a loaded machine
def test_user_config_dir_runs(world, cli):
    """A user's quant config through --config-dir: the real run uses it (issue 15)."""
    res = cli(["--config-dir", str(world / "cfg"), "+model=tiny-llama", "quant=my4", "stages=[quantize]",
               f"hydra.run.dir={world / 'run'}"], timeout=120)
    assert res.returncode == 0, res.stderr
    text = (world / "run" / "mase_config.yaml").read_text()
    assert "name: my4" in text and "weight: mxint4" in text


def test_hydra_options_move_before_the_overrides():
    """argparse refuses Hydra's valued options after the first override; mase moves them first."""
    from mase.cli import options_first

    assert options_first(["-m", "+model=x", "--config-dir", "d", "quant=best", "-cn=c"]) == \
        ["--config-dir", "d", "-cn=c", "-m", "+model=x", "quant=best"]
    assert options_first(["+model=x", "quant=q"]) == ["+model=x", "quant=q"]
