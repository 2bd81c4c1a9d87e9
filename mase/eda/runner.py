"""Run FuseSoC/Edalize flows on the mase:mx cores: lint, Verilator simulation, Yosys synthesis.

Every tool run's exit status is checked; a failure raises `EdaError` with the last lines of its log.
A tool counts as done only when its expected outputs exist (FuseSoC exits 0 when it is interrupted),
and each runs in its own process group, so that Ctrl-C, a timeout or an error ends the whole tree
(make, verilator, the compilers) instead of leaving it running; an interrupted tool raises
`ToolInterrupted` (a KeyboardInterrupt: the CLI ends the run with one line and exit status 130).
Every running tool is registered with mase.cancel: when another stage of a run fails, the pipeline's
`cancel()` ends its group and run_tool raises `mase.cancel.Cancelled` (no new tool starts either).

    >>> from mase.eda import build_sim, lint, synth
    >>> lint("mase:mx:stream")                                    # verilator --lint-only -Wall
    >>> sim = build_sim("mase:mx:stream", {"WIDTH": 8, "DEPTH": 4})  # cached per parameter set
    >>> res = sim.run({"in": ["0a", "0b"]}, {"out": 2}, stall=30, bp=30, seed=1)
    >>> res.outputs["out"]                                        # ints, one per beat
    >>> synth("mase:mx:mx_linear", {...}, arch="xcup")            # {'LUT': .., 'FF': .., 'DSP': .., 'BRAM': ..}

Builds live under a cache folder (``$MASE_EDA_CACHE``, default ``<tmp>/mase-eda-<uid>``) keyed by the
core, target, parameters and the content of every file in the core libraries, so a test session
builds each parameter set once and an edit to any RTL file rebuilds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from mase.cores import library_dir, require_library
from mase.files import locked, write_atomic  # noqa: F401  (the flows write their stamps with it)

CORES_DIR = library_dir()  # the installed mase:mx library (mase.cores); $MASE_CORES_DIR overrides it


class EdaError(RuntimeError):
    """A tool run failed; the message names the command and shows the end of its log."""


class ToolInterrupted(KeyboardInterrupt):
    """A tool stopped on SIGINT (Ctrl-C, or a signal sent to it alone): the run was interrupted."""


# FuseSoC's SIGINT handler prints this and exits 0
FUSESOC_ABORTED = "FuseSoC aborted"


def _big_stack() -> None:
    """preexec_fn: Verilator models of wide designs need more than the default 8 MB stack."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    want = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
    except (ValueError, OSError):
        pass


def _tail(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[-n:])


def _kill_tree(p: subprocess.Popen) -> None:
    """End a tool's process group (the tool and everything it started): SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            p.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


def run_tool(cmd: list[str], cwd=None, timeout: float | None = None, env: dict | None = None,
             what: str | None = None, log: Path | None = None) -> tuple[int, str]:
    """Run one tool in its own process group and return (exit status, stdout + stderr).

    With `log`, the output goes into that file as the tool writes it (stdout and stderr merged): the
    live log that the status line names (mase.report.progress.tool_status) and a raw log kept after.
    Ctrl-C reaches mase only (the tool is not in the terminal's foreground group): the
    KeyboardInterrupt ends the tool's whole group before it propagates, as does a timeout (EdaError).
    A tool killed by SIGINT raises ToolInterrupted, by another signal EdaError."""
    from mase.report.progress import tool_status

    from mase import cancel

    what = what or Path(cmd[0]).name
    cancel.check(what)  # another stage of the run failed: no new tool
    if log is not None:
        log = Path(log)
        log.parent.mkdir(parents=True, exist_ok=True)
    with tool_status(what, log), (open(log, "w") if log is not None else nullcontext()) as sink:
        rc, out = _run_to_end(cmd, cwd, env, timeout, what, sink)
    if log is not None:
        out = log.read_text(errors="replace")
    cancel.check(what)  # ended by mase.cancel.cancel() (another stage failed, Ctrl-C): not a tool failure
    if rc == -signal.SIGINT:
        raise ToolInterrupted(f"{what} was interrupted")
    if rc < 0:
        raise EdaError(f"{what} was killed by signal {-rc} ({signal.Signals(-rc).name}): {' '.join(cmd)}\n{_tail(out)}")
    return rc, out


def _run_to_end(cmd, cwd, env, timeout, what, sink) -> tuple[int, str]:
    """(exit status, output) of the tool; its output is piped, or goes into the open file `sink`."""
    stdout, stderr = (sink, subprocess.STDOUT) if sink is not None else (subprocess.PIPE, subprocess.PIPE)
    from mase import cancel

    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, text=True,
                         start_new_session=True, preexec_fn=_big_stack)
    cancel.register(p)  # mase.cancel.cancel() ends its group when another stage of the run fails
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(p)
        out, err = p.communicate()
        tail = f"(log: {sink.name})" if sink is not None else _tail(out + err)
        raise EdaError(f"{what} timed out after {timeout:.0f} s: {' '.join(cmd)}\n{tail}") from None
    except BaseException:  # KeyboardInterrupt (Ctrl-C), SystemExit
        _kill_tree(p)
        raise
    finally:
        cancel.unregister(p)
    return p.returncode, (out or "") + (err or "")


def compiler_cache_env() -> dict[str, str]:
    """The environment for tools that compile Verilator models: with ccache on PATH, Verilator's makefile
    compiles through it (OBJCACHE), so its runtime library (verilated.cpp, the same source in every
    model, ~5 s of g++ each) and any model compiled before come from the cache. A user's OBJCACHE wins."""
    env = dict(os.environ)
    if "OBJCACHE" not in env and shutil.which("ccache"):
        env["OBJCACHE"] = "ccache"
    return env


def _fusesoc_exe() -> list[str]:
    exe = Path(sys.executable).with_name("fusesoc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fusesoc.main"]


def cores_roots(extra=None) -> list[Path]:
    """The core libraries searched: mase's cores/ plus any extra folders (e.g. a generated library).
    A missing mase:mx library is a one-line MaseError naming the fix (mase.cores.require_library)."""
    roots = [require_library()]
    env = os.environ.get("MASE_CORES_ROOTS")
    if env:
        roots += [Path(p) for p in env.split(os.pathsep) if p]
    roots += [Path(p) for p in (extra or [])]
    return roots


def _describe(args: list[str]) -> str:
    """`fusesoc run --target sim --setup --build CORE ...` -> "fusesoc sim (setup, build) CORE": the status line."""
    target = args[args.index("--target") + 1] if "--target" in args else args[0]
    phases = [a[2:] for a in args if a in ("--setup", "--build", "--run")]
    core = next((a for a in args if ":" in a and not a.startswith("-")), "")
    return " ".join(["fusesoc", target] + ([f"({', '.join(phases)})"] if phases else []) + ([core] if core else []))


def fusesoc(args: list[str], roots=None, cwd=None, timeout: float | None = 1800, log: Path | None = None) -> str:
    """Run `fusesoc --cores-root ... <args>` and return its output; raise EdaError on failure."""
    cmd = _fusesoc_exe()
    for r in cores_roots(roots):
        cmd += ["--cores-root", str(r)]
    cmd += args
    cwd = cwd or tempfile.gettempdir()
    rc, out = run_tool(cmd, cwd=cwd, timeout=timeout, env=compiler_cache_env(), what=_describe(args), log=log)
    if FUSESOC_ABORTED in out:  # SIGINT to FuseSoC alone: it exits 0 with its tool half done
        raise ToolInterrupted(f"fusesoc was interrupted: {' '.join(cmd)}")
    if rc != 0 or "\nERROR:" in "\n" + out:
        raise EdaError(f"fusesoc failed (exit {rc}): {' '.join(cmd)}\n{_tail(out)}")
    return out


def completed(out: str, work_root: Path) -> bool:
    """Whether Edalize ran its tool to the end in `work_root`: it prints "Leaving directory" only after
    the tool (make lint-only, make, the simulation) exited 0. (Its path is absolute from FuseSoC's
    working folder: compared by the project and work folder names.)"""
    tail = f"/{Path(work_root).parent.name}/{Path(work_root).name}'"
    return any(l.startswith("Leaving directory '") and l.endswith(tail) for l in out.splitlines())


_SRC_SUFFIXES = (".sv", ".v", ".svh", ".vh", ".core", ".cpp", ".vlt", ".h", ".hex", ".mem", ".tcl")


def _core_index(roots) -> dict[str, Path]:
    """VLNV name without version -> .core file, over all core libraries."""
    index: dict[str, Path] = {}
    for root in cores_roots(roots):
        for f in Path(root).rglob("*.core"):
            m = re.search(r"^name\s*:\s*[\"']?([^\s\"']+)", f.read_text(errors="replace"), re.M)
            if m:
                index.setdefault(m.group(1).rsplit(":", 1)[0] if m.group(1).count(":") == 3 else m.group(1), f)
    return index


def _relative(f: Path, roots: list[Path]) -> str:
    """`f` relative to the core library holding it: a hash of it survives moving the library."""
    for i, r in enumerate(roots):
        try:
            return f"{i}/{f.relative_to(r)}"
        except ValueError:
            continue
    return str(f)


def _content_hash(roots, core: str | None = None, suffixes: tuple[str, ...] = _SRC_SUFFIXES) -> str:
    """Hash of the source files a core can see: the folders of the core and of its dependencies
    (transitively, from the `depend` lists), or of every library when the core is not found. Paths
    enter relative to their library, so a copied or moved library hashes the same."""
    h = hashlib.sha256()
    dirs: list[Path] | None = None
    if core is not None:
        index = _core_index(roots)
        todo, seen = [core.rsplit(":", 1)[0] if core.count(":") == 3 else core], set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            f = index.get(name)
            if f is None:
                dirs = None
                break
            dirs = (dirs or []) + [f.parent]
            for dep in re.findall(r"[\"']?((?:[\w.-]+:){2,3}[\w.-]+)[\"']?", " ".join(
                    l for l in f.read_text(errors="replace").splitlines() if "depend" in l or l.strip().startswith("- "))):
                dep = re.sub(r"^[<>=~^]+", "", dep)
                dep = dep.rsplit(":", 1)[0] if dep.count(":") == 3 else dep
                if dep != name:
                    todo.append(dep)
    libs = [Path(r) for r in cores_roots(roots)]
    for folder in sorted(set(dirs)) if dirs else libs:
        for f in sorted(Path(folder).rglob("*")):
            if f.is_file() and f.suffix in suffixes:
                h.update(_relative(f, libs).encode() + b"\0")
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    d = os.environ.get("MASE_EDA_CACHE") or os.path.join(tempfile.gettempdir(), f"mase-eda-{os.getuid()}")
    Path(d).mkdir(parents=True, exist_ok=True)
    return Path(d)


def _param_args(parameters: dict | None) -> list[str]:
    return [f"--{k}={v}" for k, v in (parameters or {}).items()]


def _work_root(build_root: Path, target: str, tool: str) -> Path:
    hits = sorted(build_root.glob(f"*/{target}-{tool}"))
    if not hits:
        raise EdaError(f"no {target}-{tool} folder under {build_root}")
    return hits[0]


# ------------------------------------------------------------------------------------------------
# Hex stimulus files
# ------------------------------------------------------------------------------------------------
def write_hex(path: Path, words, width: int) -> None:
    """One word per line for $readmemh (words are Python ints, masked to `width` bits)."""
    digits = max(1, -(-width // 4))
    mask = (1 << width) - 1
    Path(path).write_text("".join(f"{int(w) & mask:0{digits}x}\n" for w in words))


def read_hex(path: Path) -> list[int]:
    out = []
    for line in Path(path).read_text().split():
        if "x" in line.lower() or "z" in line.lower():
            raise EdaError(f"{path}: output beat has unknown bits: {line}")
        out.append(int(line, 16))
    return out


def pack_fields(values, bits: int) -> int:
    """Concatenate fields into one int, element 0 in the least significant bits (lane order)."""
    word, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def unpack_fields(word: int, bits: int, n: int, signed: bool = False) -> list[int]:
    mask = (1 << bits) - 1
    vals = [(word >> (i * bits)) & mask for i in range(n)]
    if signed:
        vals = [v - (1 << bits) if v >> (bits - 1) else v for v in vals]
    return vals


# ------------------------------------------------------------------------------------------------
# Simulation
# ------------------------------------------------------------------------------------------------
@dataclass
class SimResult:
    log: str
    outputs: dict[str, list[int]]
    cycles: int
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class SimBuild:
    """A built Verilator model of `core` (target `sim`) for one parameter set."""

    core: str
    parameters: dict
    build_root: Path
    target: str = "sim"
    roots: list | None = None

    @property
    def work_root(self) -> Path:
        return _work_root(self.build_root, self.target, "verilator")

    def run(self, inputs: dict[str, list], outputs: dict[str, int], stall: int = 0, bp: int = 0,
            seed: int = 1, max_cycles: int | None = None, plusargs: dict | None = None,
            widths: dict[str, int] | None = None, via_fusesoc: bool = True, timeout: float = 600) -> SimResult:
        """Simulate: `inputs` maps each source NAME to its beats (ints, or hex strings), `outputs` maps
        each sink NAME to the number of beats to collect. stall/bp are percentages of idle input
        cycles and not-ready output cycles. Returns the collected beats as ints."""
        d = Path(tempfile.mkdtemp(prefix="run-", dir=self.build_root))
        args = {"dir": str(d), "seed": seed, "stall": stall, "bp": bp}
        total = 0
        for name, beats in inputs.items():
            words = [int(b, 16) if isinstance(b, str) else int(b) for b in beats]
            write_hex(d / f"{name}.hex", words, (widths or {}).get(name, max([w.bit_length() for w in words] + [4])))
            args[f"{name}_n"] = len(words)
            total += len(words)
        for name, n in outputs.items():
            args[f"{name}_n"] = n
            total += n
        args["max_cycles"] = max_cycles or (1000 + 50 * total * (1 + max(stall, bp) // 10))
        args.update(plusargs or {})
        if via_fusesoc:
            log = fusesoc(["run", "--target", self.target, "--build-root", str(self.build_root), "--run",
                           self.core, *_param_args(args)], self.roots, timeout=timeout)
        else:
            exe = self.work_root / f"V{_toplevel(self.work_root)}"
            rc, log = run_tool([str(exe), *[f"+{k}={v}" for k, v in args.items()]], cwd=self.work_root,
                               timeout=timeout, what="simulation")
            if rc:
                raise EdaError(f"simulation failed (exit {rc}): {exe}\n{_tail(log)}")
        if "MASE_TB_TIMEOUT" in log or "MASE_TB_DONE" not in log:
            raise EdaError(f"simulation of {self.core} did not complete (timeout or missing outputs)\n{_tail(log)}")
        cycles = int(re.search(r"MASE_TB_DONE cycles=(\d+)", log).group(1))
        stats = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", " ".join(
            l for l in log.splitlines() if "MASE_TB_STATS" in l))}
        outs = {name: read_hex(d / f"{name}.out") for name in outputs}
        for name, n in outputs.items():
            if len(outs[name]) != n:
                raise EdaError(f"{self.core}: sink {name} got {len(outs[name])} beats, expected {n}\n{_tail(log)}")
        shutil.rmtree(d, ignore_errors=True)
        return SimResult(log, outs, cycles, stats)


def _toplevel(work_root: Path) -> str:
    m = re.search(r"--top-module (\S+)", "\n".join(p.read_text() for p in work_root.glob("*.vc")))
    if not m:
        raise EdaError(f"no top module in {work_root}")
    return m.group(1)


def build_sim(core: str, parameters: dict | None = None, target: str = "sim", roots=None) -> SimBuild:
    """Build (or reuse from the cache) the Verilator model of `core` with these vlogparams."""
    parameters = dict(parameters or {})
    key = hashlib.sha256(json.dumps([core, target, sorted(parameters.items()), _content_hash(roots, core),
                                     [str(r) for r in cores_roots(roots)]], default=str).encode()).hexdigest()[:20]
    build_root = cache_dir() / f"{core.replace(':', '_')}-{target}-{key}"
    done = build_root / ".built"
    with locked(build_root.with_name(build_root.name + ".lock")):  # parallel workers build it once
        if not done.exists():
            if build_root.exists():
                shutil.rmtree(build_root)
            fusesoc(["run", "--target", target, "--build-root", str(build_root), "--setup", "--build", core,
                     *_param_args(parameters)], roots, log=build_root / "build.log")
            work = _work_root(build_root, target, "verilator")
            if not (work / f"V{_toplevel(work)}").is_file():
                raise EdaError(f"the build of {core} made no simulation model in {work}")
            write_atomic(done, "ok\n")  # only after a verified build: a stamp is never half a build
    return SimBuild(core, parameters, build_root, target, roots)


# ------------------------------------------------------------------------------------------------
# Lint and synthesis
# ------------------------------------------------------------------------------------------------
def lint(core: str, parameters: dict | None = None, target: str = "lint", roots=None) -> str:
    """`verilator --lint-only -Wall` through the core's lint target; raises EdaError on any warning."""
    build_root = Path(tempfile.mkdtemp(prefix="lint-", dir=cache_dir()))
    try:
        out = fusesoc(["run", "--target", target, "--build-root", str(build_root), core, *_param_args(parameters)], roots)
        done = completed(out, _work_root(build_root, target, "verilator"))
    finally:
        shutil.rmtree(build_root, ignore_errors=True)
    if "%Warning" in out or "%Error" in out:
        raise EdaError(f"lint of {core} is not clean\n{_tail(out)}")
    if not done:
        raise EdaError(f"lint of {core} did not run to the end\n{_tail(out)}")
    return out


_ICE40 = {"LUT": ("SB_LUT4",), "FF": ("SB_DFF",), "DSP": ("SB_MAC16",), "BRAM": ("SB_RAM40_4K",),
          "SPRAM": ("SB_SPRAM256KA",), "CARRY": ("SB_CARRY",)}
_XCUP = {"LUT": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"), "FF": ("FDRE", "FDSE", "FDCE", "FDPE"),
         "DSP": ("DSP48E2",), "BRAM": ("RAMB36E2",), "BRAM18": ("RAMB18E2",), "URAM": ("URAM288",),
         "LUTRAM": ("RAM16", "RAM32", "RAM64", "RAM128", "RAM256", "SRL"), "CARRY": ("CARRY8",)}


YOSYS_END = "End of script."  # the last line Yosys writes to its log after the whole script ran


def stat_cells(log: str) -> dict[str, int] | None:
    """Cell name -> count from the last `stat` block of a Yosys log; None when it has none."""
    blocks = log.split("Number of cells:")
    if len(blocks) < 2:
        return None
    cells: dict[str, int] = {}
    for line in blocks[-1].splitlines()[1:]:
        m = re.match(r"\s+(\S+)\s+(\d+)\s*$", line)
        if not m:
            if cells:
                break
            continue
        cells[m.group(1)] = int(m.group(2))
    return cells


def run_yosys_make(work: Path, timeout: float, what: str, log: Path) -> tuple[Path, str]:
    """Build with the Makefile Edalize generated in `work` (fusesoc --build would set the project up
    again); returns yosys.log's path and text, or raises EdaError unless Yosys ran its whole script."""
    rc, out = run_tool(["make"], cwd=work, timeout=timeout, what=what, log=log)
    log_path = work / "yosys.log"
    text = log_path.read_text() if log_path.exists() else ""
    if rc != 0:
        raise EdaError(f"Yosys failed (exit {rc}) in {work}\n{_tail(text or out)}")
    if YOSYS_END not in text:
        raise EdaError(f"Yosys did not run to the end in {work} (no '{YOSYS_END}' in yosys.log)\n{_tail(text or out)}")
    return log_path, text


def parse_yosys_stat(log: str, arch: str) -> dict:
    """Resources from the last `stat` block of a Yosys log (BRAM in 36 Kb units on xcup, with
    RAMB18 counted as half; 4 Kb blocks on iCE40)."""
    cells = stat_cells(log)
    if cells is None:
        raise EdaError("no `stat` output in the Yosys log")
    table = _ICE40 if arch == "ice40" else _XCUP
    res = {k: sum(n for c, n in cells.items() if any(c.startswith(p) for p in pre)) for k, pre in table.items()}
    if arch != "ice40":
        res["BRAM"] = res["BRAM"] + res.pop("BRAM18") / 2
    res["cells"] = cells
    return res


# synth_ecp5 / synth_ice40 end with `autoname` (readable names for Yosys-made cells), which Yosys 0.23
# does in quadratic time: 135 of 618 CPU seconds of smollm2-135m's folded ECP5 layer. The netlist's cells
# and their counts do not depend on names, so the script stops before that label and runs the rest of it.
_CHECK_WITHOUT_AUTONAME = "hierarchy -check\nstat\ncheck -noinit\nblackbox =A:whitebox"


def _patch_yosys_tcl(work_root: Path) -> None:
    """Edalize's Yosys scripts, for Yosys 0.23: negative chparam values as 32-bit signed literals (its
    chparam cannot parse "-20"); no `autoname` at the end of synth_ecp5 / synth_ice40."""
    for tcl in work_root.glob("*.tcl"):
        text = tcl.read_text()
        fixed = re.sub(r"(chparam -set \S+ )-(\d+)\b",
                       lambda m: f"{m.group(1)}32'sh{(-int(m.group(2))) & 0xFFFFFFFF:08x}", text)
        fixed = re.sub(r"^(synth_(?:ecp5|ice40)\b(?:(?!-run\b)[^\n])*)$",
                       lambda m: f"{m.group(1)} -run :check\n{_CHECK_WITHOUT_AUTONAME}", fixed, flags=re.M)
        if fixed != text:
            tcl.write_text(fixed)


def synth(core: str, parameters: dict | None = None, arch: str = "ice40", roots=None,
          keep: Path | None = None, timeout: float = 1800) -> dict:
    """Yosys synthesis through the core's `synth` (iCE40) or `synth_xcup` (UltraScale+) target.

    Returns {'LUT', 'FF', 'DSP', 'BRAM', ..., 'cells': {cell: count}, 'log': path}; the raw log is
    kept under `keep` (or the cache folder)."""
    if arch not in ("ice40", "xcup"):
        raise ValueError(f"arch {arch!r}: choose ice40 or xcup")
    target = "synth" if arch == "ice40" else "synth_xcup"
    key = hashlib.sha256(json.dumps([core, target, sorted((parameters or {}).items()), _content_hash(roots, core)],
                                    default=str).encode()).hexdigest()[:20]
    build_root = Path(keep) if keep else cache_dir() / f"{core.replace(':', '_')}-{target}-{key}"
    with locked(build_root.with_name(build_root.name + ".lock")):  # parallel workers: one at a time per key
        if build_root.exists():
            shutil.rmtree(build_root)
        args = [core, *_param_args(parameters)]
        fusesoc(["run", "--target", target, "--build-root", str(build_root), "--setup", *args], roots,
                timeout=timeout, log=build_root / "setup.log")
        work = _work_root(build_root, target, "yosys")
        _patch_yosys_tcl(work)
        log_path, log = run_yosys_make(work, timeout, f"Yosys synthesis of {core}", build_root / "build.log")
    res = parse_yosys_stat(log, arch)
    res["log"] = str(log_path)
    return res
