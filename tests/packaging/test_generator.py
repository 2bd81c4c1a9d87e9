"""The FuseSoC generator mase_accel and the outside project of examples/accel_project (issue 15, item 2):
real FuseSoC runs the generator (mase) and lints, builds and simulates the project's top level."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mase.eda import CORES_DIR
from mase.eda.generator import GeneratorError, command

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "accel_project"
SCRIPT = CORES_DIR / "generators" / "mase_accel.py"


def _env() -> dict:
    # the generator runs the python3 on PATH: this environment's, as when its venv is activated
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "MASE_EAGER": "1"}


def _fusesoc(args: list[str], cwd: Path, timeout: int = 600) -> str:
    exe = Path(sys.executable).with_name("fusesoc")
    res = subprocess.run([str(exe), "--cores-root", str(CORES_DIR), "--cores-root", str(EXAMPLE), *args], cwd=cwd,
                         env=_env(), capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0 and "\nERROR:" not in res.stdout + res.stderr, (res.stdout + res.stderr)[-4000:]
    return res.stdout + res.stderr


def test_generators_core_pulls_in_every_library_core():
    """FuseSoC does not resolve a generated core's dependencies: mase:mx:generators lists them all."""
    names = {re.search(r"^name:\s*(\S+):[\d.]+$", f.read_text(), re.M).group(1) for f in CORES_DIR.glob("*/*.core")}
    deps = set(yaml.safe_load((CORES_DIR / "generators" / "generators.core").read_text())["filesets"]["cores"]["depend"])
    assert deps == names - {"mase:mx:tb", "mase:mx:generators"}


def test_command_from_parameters(tmp_path):
    gen = {"vlnv": "acme:demo:top-accel:1.0", "files_root": str(tmp_path),
           "parameters": {"model": "tiny-llama", "quant": "mxint4", "overrides": ["hw.top=accel_a"]}}
    cmd = command(gen, tmp_path)
    assert cmd[3:] == ["+model=tiny-llama", "quant=mxint4", "stages=[quantize,emit]", "hw.vlnv=acme:demo:top-accel:1.0",
                       "progress=false", f"hydra.run.dir={tmp_path / 'mase_run'}", "hw.top=accel_a"]
    for bad, msg in (({"modle": "x"}, "unknown parameter 'modle'"), ({}, "no model"),
                     ({"model": "m", "overrides": "hw.top=a"}, "give a list of strings"),
                     ({"model": "m", "config_dir": "nope"}, "config_dir=nope: no folder")):
        with pytest.raises(GeneratorError, match=msg):
            command({"files_root": str(tmp_path), "parameters": bad}, tmp_path)


def test_generator_errors_are_one_line(tmp_path):
    """A mistake in the generate: section, or one mase refuses, is one line and a non-zero exit."""
    for params, expect in (({"model": "tiny-llama", "target": "u250x"}, "mase: error: "),
                           ({"model": "tiny-llama", "speed": 3}, "mase_accel: error: unknown parameter 'speed'")):
        inp = tmp_path / "accel_input.yml"
        inp.write_text(yaml.safe_dump({"gapi": "1.0", "files_root": str(tmp_path), "vlnv": "a:b:c-accel:1",
                                       "parameters": params}))
        res = subprocess.run(["python3", str(SCRIPT), str(inp)], cwd=tmp_path, env=_env(), capture_output=True, text=True)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        (line,) = [l for l in res.stderr.splitlines() if "error:" in l]
        assert line.startswith(expect), res.stderr
        assert not list(tmp_path.rglob("*.core"))


@pytest.mark.slow
def test_example_project_lints_and_simulates(tmp_path):
    """fusesoc run --target lint / sim of the example: the generator runs mase, the project's top
    (generated accelerator + mx_fifo) lints clean and reproduces the golden outputs under random stalls."""
    core = "example:demo:accel_project"
    out = _fusesoc(["run", "--target", "lint", "--build-root", str(tmp_path / "build"), core], tmp_path)
    assert "generated example:demo:accel_project-accel:0.1.0: 35 of 35 nodes mapped" in out, out[-3000:]
    _fusesoc(["run", "--target", "sim", "--build-root", str(tmp_path / "build"), "--setup", "--build", core], tmp_path)
    work = tmp_path / "build" / "example_demo_accel_project_0.1.0" / "sim-verilator"
    (stim,) = work.glob("generator_cache/*/hw/stim")
    lib = stim.parent
    assert (lib / "accel_a.core").is_file() and (lib / "rtl" / "accel_a.sv").is_file()
    n_in = len((stim / "i_embed.hex").read_text().split())
    n_out = len((stim / "o_final_norm.exp").read_text().split())
    # the built model, run as `fusesoc run --target sim --run` would (which would run the generator again)
    res = subprocess.run([str(work / "Vtb_demo"), f"+dir={stim}", f"+exp={stim}", f"+i_embed_n={n_in}",
                          f"+o_final_norm_n={n_out}", "+seed=3", "+stall=30", "+bp=30"], cwd=work,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "MASE_TB_PASS" in res.stdout, res.stdout[-3000:] + res.stderr[-2000:]
    assert f"beats={n_out} errors=0" in res.stdout


def _wrapper(tops: dict[str, Path]) -> str:
    """A top instantiating each generated accelerator, its ports on the wrapper prefixed by the top's name."""
    ports, insts = ["    input logic clk", "    input logic rst"], []
    for top, sv in tops.items():
        decl = re.findall(r"^\s+(input|output)\s+logic\s+(\[[^\]]+\]\s+)?(\w+),?$", sv.read_text().split(");")[0], re.M)
        conns = [".clk", ".rst"]
        for d, rng, name in decl:
            if name not in ("clk", "rst"):
                ports.append(f"    {d} logic {rng or ''}{top}_{name}")
                conns.append(f".{name}({top}_{name})")
        insts.append(f"    {top} u_{top} ({', '.join(conns)});")
    return "module two_top (\n" + ",\n".join(ports) + "\n);\n" + "\n".join(insts) + "\nendmodule\n"


@pytest.mark.slow
def test_two_accelerators_share_a_project(tmp_path):
    """hw.top / hw.vlnv: two generated accelerators (and their shared glue) lint clean in one top."""
    res = subprocess.run([sys.executable, "-m", "mase.cli", "-m", "+model=tiny-llama", "model.tiny.num_layers=1",
                          "quant=mxint4", "target=sim", "stages=[quantize,emit]", "hw.golden=false",
                          "hw.top=accel_a,accel_b", "hw.vlnv=acme:demo:${hw.top}:1.0", "progress=false",
                          "hydra.sweep.dir=runs", "hydra.sweep.subdir=${hw.top}"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    tops = {t: tmp_path / "runs" / t / "hw" / "rtl" / f"{t}.sv" for t in ("accel_a", "accel_b")}
    # FuseSoC copies every memory image into one build folder: the names of the two must not collide
    mems = {t: {f.name for f in (sv.parents[1] / "mem").iterdir()} for t, sv in tops.items()}
    assert mems["accel_a"] and all(m.startswith("accel_a.") for m in mems["accel_a"])
    assert not mems["accel_a"] & mems["accel_b"]
    two = tmp_path / "two"
    two.mkdir()
    (two / "two_top.sv").write_text(_wrapper(tops))
    (two / "two.core").write_text(
        "CAPI=2:\nname: acme:demo:two:1.0\nfilesets:\n  rtl:\n    files: [two_top.sv]\n    file_type: systemVerilogSource\n"
        "    depend: [acme:demo:accel_a, acme:demo:accel_b]\ntargets:\n  lint:\n    default_tool: verilator\n"
        "    filesets: [rtl]\n    toplevel: two_top\n    tools:\n      verilator:\n        mode: lint-only\n"
        "        verilator_options: [-Wall]\n")
    exe = Path(sys.executable).with_name("fusesoc")
    roots = [CORES_DIR, two] + [sv.parents[1] for sv in tops.values()]  # run folders hold FUSESOC_IGNORE: their hw/
    res = subprocess.run([str(exe), *[a for r in roots for a in ("--cores-root", str(r))], "run", "--target",
                          "lint", "--build-root", str(tmp_path / "build"), "acme:demo:two"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "%Warning" not in out and "%Error" not in out, out[-3000:]
