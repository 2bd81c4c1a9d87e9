"""The FuseSoC generator `mase_accel` (cores/generators): run mase, hand its accelerator core to FuseSoC.

FuseSoC calls `python3 mase_accel.py <name>_input.yml` in an empty working folder and adds every .core
file it finds there afterwards. The input (GAPI 1.0) holds the calling core's folder (files_root), the
VLNV FuseSoC names the generated core after, and the parameters of its `generate:` section:

    generate:
      accel:
        generator: mase_accel
        parameters: {model: tiny-llama, quant: mxint4, target: sim, overrides: ["hw.top=accel_a"]}

This runs `mase +model=tiny-llama quant=mxint4 target=sim stages=[quantize,emit] hw.top=accel_a
hw.vlnv=<VLNV>` in a subprocess (its own Hydra run, its one-line errors on stderr) and moves the run's
hw/ library into the working folder; the rest of the run (mase.log, .hydra/) stays in mase_run/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PARAMETERS = ("model", "quant", "target", "overrides", "config_dir")
RUN, LIBRARY = "mase_run", "hw"


class GeneratorError(Exception):
    """A mistake in the generate: section: one line naming the fix."""


def command(gen: dict, cwd: Path) -> list[str]:
    """The mase command line for a GAPI input `gen` (parameters checked: GeneratorError)."""
    p = dict(gen.get("parameters") or {})
    unknown = sorted(set(p) - set(PARAMETERS))
    if unknown:
        raise GeneratorError(f"unknown parameter {unknown[0]!r}: mase_accel takes {', '.join(PARAMETERS)}")
    if not p.get("model"):
        raise GeneratorError("no model: add `model: NAME` to the parameters (e.g. tiny-llama, smollm2-135m)")
    overrides = p.get("overrides") or []
    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise GeneratorError(f"overrides={overrides!r}: give a list of strings, e.g. [\"hw.top=accel_a\"]")
    keys = {o.lstrip("+~").split("=", 1)[0] for o in overrides}
    cmd = [sys.executable, "-m", "mase.cli"]
    if p.get("config_dir"):
        d = Path(gen.get("files_root", ".")) / str(p["config_dir"])
        if not d.is_dir():
            raise GeneratorError(f"config_dir={p['config_dir']}: no folder {d} (relative to the calling core)")
        cmd += ["--config-dir", str(d)]
    cmd.append(f"+model={p['model']}")
    cmd += [f"{k}={p[k]}" for k in ("quant", "target") if p.get(k)]
    if "stages" not in keys:
        cmd.append("stages=[quantize,emit]")
    if "hw.vlnv" not in keys and gen.get("vlnv"):
        cmd.append(f"hw.vlnv={gen['vlnv']}")
    cmd += ["progress=false", f"hydra.run.dir={cwd / RUN}", *overrides]
    return cmd


def generate(gen: dict, cwd: Path) -> Path:
    """Run mase for `gen` in `cwd`; returns the generated library (cwd/hw, holding one .core)."""
    cwd = Path(cwd).resolve()
    cmd = command(gen, cwd)
    print("mase_accel: " + " ".join(cmd[2:]), flush=True)
    rc = subprocess.run(cmd, cwd=cwd).returncode
    if rc != 0:  # mase printed its one-line error
        raise SystemExit(rc)
    lib = cwd / LIBRARY
    shutil.rmtree(lib, ignore_errors=True)
    shutil.move(str(cwd / RUN / LIBRARY), str(lib))
    shutil.rmtree(cwd / RUN / "hw_sim", ignore_errors=True)  # the simulation library has the same core name
    cores = list(cwd.rglob("*.core"))
    if len(cores) != 1:
        raise GeneratorError(f"expected one generated core in {cwd}, found {len(cores)}: {cores}")
    # FuseSoC finds the generated core by walking this folder; a library scan of a cores root that
    # holds the build folder must not find it a second time
    (cwd / "FUSESOC_IGNORE").touch()
    return lib


def main(argv: list[str]) -> None:
    import yaml

    if len(argv) != 1:
        print("usage: python -m mase.eda.generator <input.yml>  (FuseSoC runs it with its GAPI file)", file=sys.stderr)
        raise SystemExit(2)
    try:
        gen = yaml.safe_load(Path(argv[0]).read_text()) or {}
        generate(gen, Path.cwd())
    except (GeneratorError, OSError, yaml.YAMLError) as exc:
        print(f"mase_accel: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main(sys.argv[1:])
