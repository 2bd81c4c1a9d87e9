"""Place and route with nextpnr through Edalize's icestorm (iCE40) and trellis (ECP5) flows; fmax.

Each place-and-route unit (the whole design, or one representative node configuration) gets a small
wrapper core under `<run>/build/pnr/<unit>/` whose `pnr` target runs Yosys, nextpnr and the packer;
the Makefile Edalize writes is then run step by step (Yosys, nextpnr, pack) so that each tool's exit
status and time are known, and the raw logs (yosys.log, next.log, the nextpnr JSON report) stay there.

Scope (`hw.pnr_scope`):
- "design": the generated top; refused before any tool runs when the LUT/DSP/BRAM estimate (the
  synth stage's Yosys figures, else the analytical plan) exceeds the part, and before nextpnr
  when Yosys' LUT/DSP counts do (every unit is checked there);
- "nodes":  each distinct (core, parameters) of the mapped nodes once, out of context, one at a time;
            the design clock is the minimum fmax over them ("per-node out-of-context": the wiring
            between nodes, FIFOs and width converters are not placed);
- "auto":   "design" when the estimate fits the part (an analytical one with a 2.5x margin), else
            "nodes"; also "nodes" when the design passed the estimate but not Yosys' counts.

Out of context: the generated designs have stream ports far wider than any package's pins and no
board pin-out, so in-context placement would measure arbitrary pad routes. ECP5 uses nextpnr's
`--out-of-context`; nextpnr-ice40 has none (YosysHQ/nextpnr#537), so on iCE40 a unit whose ports
exceed the package's pins is wrapped in a shift-register harness (inputs shifted in from one pin,
outputs loaded in parallel and shifted out to one pin): every port is a flop next to the unit, as
out of context, at the cost of one FF per input bit and one LUT + FF per output bit (reported).
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from mase.errors import MaseError
from mase.eda.runner import EdaError, _patch_yosys_tcl, _tail, cores_roots, fusesoc, run_tool, stat_cells

from .tools import YOWASP, require, which
from .yosys import SYNTH_DEFINES

log = logging.getLogger("mase")

# user I/O of the packages (datasheets): sg48 39 (UP5K), CABGA381 205 (LFE5U-85F)
PACKAGE_IO = {("ice40", "sg48"): 39, ("ice40", "uwg30"): 21, ("ecp5", "CABGA381"): 205, ("ecp5", "CABGA756"): 365}
TOOLS = {"ice40": ("yosys", "nextpnr-ice40", "icepack"), "ecp5": ("yosys", "nextpnr-ecp5", "ecppack")}
EDALIZE = {"ice40": "icestorm", "ecp5": "trellis"}
FILE_PARAMS = ("W_FILE", "S_FILE", "B_FILE")
HARNESS = "mase_pnr_harness"
# Verilog defines of the place-and-route flows per family: on the iCE40 (synth_ice40 keeps products in
# LUTs) mx_mul_pipe cuts its operands into 6-bit chunks, 7x7 LUT products instead of 18x18 ones; the
# same entry as Yosys synthesis alone (mase.eda.yosys.SYNTH_DEFINES), so both see one netlist
PNR_DEFINES = {"ice40": dict(SYNTH_DEFINES["ice40"])}


class NoFit(MaseError):
    """A unit does not fit the part (found before or by nextpnr)."""


def device_options(target: Any) -> list[str]:
    """nextpnr's device, package and speed options for a target (conf/target/*.yaml)."""
    fam, part, pkg = str(target.family), str(target.part), str(target.package)
    if fam == "ice40":
        m = re.match(r"iCE40(UP5K|UP3K|HX8K|HX4K|HX1K|LP8K|LP4K|LP1K|LP384|U4K)", part, re.I)
        if not m:
            raise MaseError(f"target {target.name}: unknown iCE40 part {part!r} (e.g. iCE40UP5K)")
        return [f"--{m.group(1).lower()}", "--package", pkg]
    if fam == "ecp5":
        m = re.match(r"LFE5(U|UM|UM5G)-(\d+)F(?:-(\d))?", part)
        if not m:
            raise MaseError(f"target {target.name}: unknown ECP5 part {part!r} (e.g. LFE5U-85F-6BG381C)")
        dev = {"U": "", "UM": "um-", "UM5G": "um5g-"}[m.group(1)] + f"{m.group(2)}k"
        return [f"--{dev}", "--package", pkg] + (["--speed", m.group(3)] if m.group(3) else [])
    raise MaseError(f"target {target.name}: no nextpnr flow for family {fam!r} (ice40, ecp5)")


def nextpnr_options(target: Any, clock_mhz: float, ooc: bool) -> list[str]:
    # --timing-allow-fail: a design slower than the target clock still reports its fmax (meets_target
    # says whether it passed); --seed: reproducible placement
    # target.pnr_options: the target's own choices (conf/target/ecp5-85k.yaml: router2)
    opts = device_options(target) + ["--freq", f"{clock_mhz:g}", "--timing-allow-fail", "--seed", "1",
                                     "--report", "report.json"]
    return opts + (["--out-of-context"] if ooc else []) + [str(o) for o in getattr(target, "pnr_options", None) or []]


# ------------------------------------------------------------------------------------------------
# tools
# ------------------------------------------------------------------------------------------------
def _shim_path(fam: str, bin_dir: Path) -> dict[str, str]:
    """Environment whose PATH finds the native tools or, where missing, their YoWASP builds under
    the native names the Edalize Makefile calls."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS[fam]:
        if shutil.which(tool) is None and tool in YOWASP and which(tool):
            link = bin_dir / tool
            if not link.exists():
                link.symlink_to(which(tool))
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def tool_versions(fam: str) -> dict[str, str]:
    out = {}
    for tool in TOOLS[fam]:
        exe = which(tool)
        if exe is None:
            continue
        flag = "-V" if tool == "yosys" else "--version"
        if tool in ("icepack", "ecppack"):
            out[tool] = exe  # no version flag; the path says native (Debian) or YoWASP
            continue
        _, text = run_tool([exe, flag], timeout=300, what=tool)
        lines = [l for l in text.splitlines() if l.strip() and "Preparing" not in l]
        out[tool] = (lines[0].strip() if lines else "?") + ("" if exe == shutil.which(tool) else " (YoWASP)")
    return out


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CPU: dict[str, float] = {}  # CPU seconds of the last _make per tool (wall time depends on the machine's load)


def _make(work: Path, goal: str | None, env: dict, what: str, log: Path, timeout: float,
          expect: tuple[str, ...] = ()) -> float:
    """`make [goal]` in the Edalize work folder; done when it exits 0 and wrote the files `expect`
    (each removed first, so that an old one never stands for this run's)."""
    t0, c0 = time.perf_counter(), _cpu()
    for f in expect:
        (work / f).unlink(missing_ok=True)
    rc, out = run_tool(["make"] + ([goal] if goal else []), cwd=work, env=env, timeout=timeout, what=what, log=log)
    if rc != 0:
        raise EdaError(f"{what} failed (exit {rc}) in {work}\n{_tail(out, 20)}")
    missing = [f for f in expect if not (work / f).is_file()]
    if missing:
        raise EdaError(f"{what} exited 0 but wrote no {', '.join(missing)} in {work}\n{_tail(out, 20)}")
    CPU[what.split()[0]] = _cpu() - c0
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------
# one unit
# ------------------------------------------------------------------------------------------------
def _param_text(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def _harness(module: str, params: dict, ports: dict) -> str:
    """Shift-register I/O around `module` (ports from Yosys' JSON netlist: name -> (direction, bits))."""
    ins = [(n, len(b)) for n, (d, b) in ports.items() if d == "input" and n != "clk"]
    outs = [(n, len(b)) for n, (d, b) in ports.items() if d == "output"]
    ni, no = max(1, sum(w for _, w in ins)), max(1, sum(w for _, w in outs))
    conns, lo = [".clk(clk)"], 0
    for n, w in ins:
        conns.append(f".{n}(in_sr[{lo + w - 1}:{lo}])")
        lo += w
    lo = 0
    for n, w in outs:
        conns.append(f".{n}(outs[{lo + w - 1}:{lo}])")
        lo += w
    ps = ", ".join(f".{k}({_param_text(v)})" for k, v in params.items())
    return (f"// Generated by mase: place-and-route harness of {module} (ports shifted in/out through one pin each)\n"
            f"module {HARNESS} (input logic clk, input logic si, input logic ld, output logic so);\n"
            f"    logic [{ni}:0] in_sr;\n    logic [{no - 1}:0] outs, out_sr;\n"
            f"    always_ff @(posedge clk) in_sr <= {{in_sr[{ni - 1}:0], si}};\n"
            f"    always_ff @(posedge clk) out_sr <= ld ? outs : {{out_sr[{max(no - 2, 0)}:0], 1'b0}};\n"
            f"    assign so = out_sr[{no - 1}];\n"
            f"    {module} {'#(' + ps + ') ' if ps else ''}dut ({', '.join(conns)});\n"
            "endmodule\n")


def _wrapper_core(unit: str, dep: str, top: str, target: Any, clock_mhz: float, ooc: bool, params: dict,
                  files: list[str]) -> str:
    fam = str(target.family)
    y = ["CAPI=2:", f"# Generated by mase: place and route of {unit}", f"name: mase:pnr:{unit}:0", "filesets:", "  top:"]
    if files:
        y += [f"    files: [{', '.join(files)}]", "    file_type: systemVerilogSource"]
    y += [f'    depend: ["{dep}"]', "targets:", "  default:", "    filesets: [top]"]
    opts = nextpnr_options(target, clock_mhz, ooc)
    defines = PNR_DEFINES.get(fam, {})
    y += ["  pnr:", f"    default_tool: {EDALIZE[fam]}", "    filesets: [top]", f"    toplevel: {top}"]
    if params or defines:
        y.append(f"    parameters: [{', '.join([*params, *(f'{d}={v}' for d, v in defines.items())])}]")
    y += ["    tools:", f"      {EDALIZE[fam]}:"] + (["        pnr: next", "        arch: ice40"] if fam == "ice40" else [])
    y.append(f"        nextpnr_options: [{', '.join(opts)}]")
    if params or defines:
        y.append("parameters:")
        y += [f"  {p}: {{datatype: {'str' if isinstance(v, str) else 'int'}, paramtype: vlogparam}}"
              for p, v in params.items()]
        y += [f"  {d}: {{datatype: int, paramtype: vlogdefine}}" for d in defines]
    return "\n".join(y) + "\n"


def _setup(unit_dir: Path, unit: str, dep: str, top: str, target: Any, clock_mhz: float, ooc: bool,
           params: dict, files: list[str], roots: list[Path]) -> Path:
    core = _wrapper_core(unit, dep, top, target, clock_mhz, ooc, params, files)
    (unit_dir / "core").mkdir(parents=True, exist_ok=True)
    (unit_dir / "core" / "pnr.core").write_text(core)
    build = unit_dir / "build"
    shutil.rmtree(build, ignore_errors=True)
    args = [f"--{k}={v}" for k, v in params.items()]
    fusesoc(["run", "--target", "pnr", "--build-root", str(build), "--setup", f"mase:pnr:{unit}:0", *args],
            roots + [unit_dir / "core"], log=unit_dir / "setup.log")
    hits = sorted(build.glob(f"*/pnr-{EDALIZE[str(target.family)]}"))
    if not hits:
        raise EdaError(f"no pnr work folder under {build}")
    _patch_yosys_tcl(hits[0])
    if ooc:
        # Edalize's trellis flow always asks nextpnr for --textcfg, which nextpnr refuses out of
        # context (no bitstream of a partial design): keep the routed netlist instead
        mk = hits[0] / "Makefile"
        mk.write_text(re.sub(r"--textcfg (\S+)\.config", r"--write \1.routed.json", mk.read_text()))
    return hits[0]


def _ports_json(work: Path, name: str, env: dict, log: Path, timeout: float) -> float:
    """Elaborate the unit with Edalize's own Yosys script, synthesis replaced by `hierarchy`."""
    tcl = (work / "edalize_yosys_template.tcl").read_text().replace("synth $top", "hierarchy -top $top\nyosys proc")
    tcl = tcl.replace("write_json $name.json", "write_json ports.json")  # not the netlist make would reuse
    (work / "ports.tcl").write_text(tcl)
    t0 = time.perf_counter()
    (work / "ports.json").unlink(missing_ok=True)
    rc, out = run_tool(["yosys", "-q", "-l", "ports.log", "-p", "tcl ports.tcl"], cwd=work, env=env, timeout=timeout,
                       what="yosys (ports)")
    log.write_text(out)
    if rc != 0 or not (work / "ports.json").is_file():
        raise EdaError(f"yosys (ports) failed (exit {rc}) in {work}\n{_tail(out, 20)}")
    return time.perf_counter() - t0


def _netlist_ports(netlist: Path, top: str) -> dict[str, tuple[str, list]]:
    mods = json.loads(netlist.read_text())["modules"]
    mod = mods.get(top) or next(m for k, m in mods.items() if m.get("attributes", {}).get("top"))
    return {n: (p["direction"], p["bits"]) for n, p in mod["ports"].items()}


def _yosys_cells(work: Path) -> dict[str, int]:
    log = (work / "yosys.log").read_text() if (work / "yosys.log").exists() else ""
    return stat_cells(log) or {}


LUT_CELLS = {"ice40": ("SB_LUT4",), "ecp5": ("LUT4", "TRELLIS_COMB")}
DSP_CELLS = {"ice40": ("SB_MAC16",), "ecp5": ("MULT18X18D",)}
CARRY = {"ice40": (), "ecp5": ("CCU2C",)}  # an ECP5 CCU2C is two LUT4s of a slice


def _luts(cells: dict[str, int], fam: str) -> int:
    return sum(n for c, n in cells.items() if c in LUT_CELLS[fam]) + 2 * sum(n for c, n in cells.items()
                                                                              if c in CARRY[fam])


def _clock(net: str) -> str:
    return net.split("$")[0]  # "clk$SB_IO_IN_$glb_clk" (the global buffer's net) -> "clk"


def _parse_nextpnr(work: Path, fam: str) -> dict[str, Any]:
    rep = json.loads((work / "report.json").read_text()) if (work / "report.json").is_file() else {}
    log = (work / "next.log").read_text() if (work / "next.log").is_file() else ""
    fmax = {_clock(c): round(float(v["achieved"]), 2) for c, v in rep.get("fmax", {}).items()}
    if not fmax:  # older nextpnr: the last (post-route) line of the log
        for c, f in re.findall(r"Max frequency for clock\s+'([^']*)':\s*([\d.]+) MHz", log):
            fmax[_clock(c)] = float(f)
    util = {k: {"used": v["used"], "available": v["available"]} for k, v in rep.get("utilization", {}).items()
            if v.get("used")}
    return {"fmax_by_clock": fmax, "utilisation": util}


def _fix(target: Any) -> str:
    bigger = "" if str(target.family) == "ecp5" else " (target=ecp5-85k)"
    return f"use hw.pnr_scope=nodes (per-node out of context) or a larger target{bigger}"


def place_unit(unit_dir: Path, unit: str, dep: str, top: str, params: dict, target: Any, clock_mhz: float,
               roots: list[Path], capacity: dict | None = None, timeout: float = 3600,
               sources: list[Path] = (), netlist: Path | None = None) -> dict[str, Any]:
    """Yosys + nextpnr (+ pack) of one unit through its wrapper core; the figures and log paths.
    `dep` is the core providing `top`; `params` its vlogparams (strings for file names). `netlist`
    (ECP5): the synth stage's Yosys netlist of the same top (the same script, sources and defines), used
    instead of running Yosys again (5-12 minutes for a whole design)."""
    fam = str(target.family)
    require(TOOLS[fam], target.name)
    env = _shim_path(fam, unit_dir / "bin")
    t0 = time.perf_counter()
    pins = PACKAGE_IO.get((fam, str(target.package)))
    ooc = fam == "ecp5"
    (unit_dir / "core").mkdir(parents=True, exist_ok=True)
    files = []
    for f in sources:  # extra sources (generated helpers) next to the wrapper core
        shutil.copyfile(f, unit_dir / "core" / Path(f).name)
        files.append(Path(f).name)
    work = _setup(unit_dir, unit, dep, top, target, clock_mhz, ooc, params, files, roots)
    name = f"mase_pnr_{unit}_0"
    if fam == "ice40":  # only the ports first (elaboration, no synthesis): they decide on the harness
        secs = {"yosys": _ports_json(work, name, env, unit_dir / "ports.out", timeout)}
    elif netlist is not None:  # make sees the netlist newer than its script and goes on to nextpnr
        shutil.copyfile(netlist, work / f"{name}.json")
        shutil.copyfile(netlist.parent / "yosys.log", work / "yosys.log")
        secs = {"yosys": 0.0}
        logging.getLogger("mase").info("pnr: the synth stage's netlist %s (Yosys not run again)", netlist)
    else:
        secs = {"yosys": _make(work, f"{name}.json", env, "yosys", unit_dir / "yosys.out", timeout, (f"{name}.json",))}
    ports = _netlist_ports(work / ("ports.json" if fam == "ice40" else f"{name}.json"), top)
    port_bits = sum(len(b) for _, b in ports.values())
    method = "--out-of-context" if ooc else "in context"
    harness = None
    if fam == "ice40" and pins is not None and port_bits > pins:
        # no out-of-context mode in nextpnr-ice40: the unit behind a shift-register harness
        (unit_dir / "core").mkdir(parents=True, exist_ok=True)
        (unit_dir / "core" / f"{HARNESS}.sv").write_text(_harness(top, params, ports))
        work = _setup(unit_dir, unit, dep, HARNESS, target, clock_mhz, False, {}, files + [f"{HARNESS}.sv"], roots)
        secs["yosys"] += _make(work, f"{name}.json", env, "yosys (harness)", unit_dir / "yosys.out", timeout,
                               (f"{name}.json",))
        method = "shift-register I/O harness (nextpnr-ice40 has no out-of-context mode)"
        n_out = sum(len(b) for d, b in ports.values() if d == "output")
        harness = {"ff": port_bits, "lut": n_out}  # in_sr (the inputs but clk, + 1) and out_sr
    elif fam == "ice40":
        secs["yosys"] += _make(work, f"{name}.json", env, "yosys", unit_dir / "yosys.out", timeout, (f"{name}.json",))
    cells = _yosys_cells(work)
    luts = _luts(cells, fam)
    res: dict[str, Any] = {"unit": unit, "top": top, "core": dep, "method": method, "port_bits": port_bits,
                           "package_io": pins, "harness": harness, "yosys_luts": luts, "work": str(work)}
    dsps = sum(n for c, n in cells.items() if c in DSP_CELLS[fam])
    res["yosys_dsps"] = dsps
    for what, n, cap in (("LUT4", luts, "lut"), ("DSP", dsps, "dsp")):
        if capacity and capacity.get(cap) and n > capacity[cap]:
            raise NoFit(f"{unit} ({top}) needs {n} {what} after Yosys, the part has {capacity[cap]:.0f}"
                        + (f": {_fix(target)}" if unit == "design" else ""))
    pnr_goal = f"{name}.config" if fam == "ecp5" else f"{name}.asc"
    try:
        secs["nextpnr"] = _make(work, pnr_goal, env, f"nextpnr-{fam}", unit_dir / "nextpnr.out", timeout,
                                ("report.json",))  # nextpnr writes its --report after routing
    except EdaError as exc:
        log = (work / "next.log").read_text() if (work / "next.log").is_file() else str(exc)
        if re.search(r"Unable to find a placement location|no BELs remaining|Design uses \d+ .* but device has|"
                     r"not enough", log, re.I):
            err = next((l for l in log.splitlines() if l.startswith("ERROR")), _tail(log, 1))
            raise NoFit(f"{unit} ({top}) does not fit {target.part}: {err}"
                        + (f"; {_fix(target)}" if unit == "design" else "")) from None
        raise
    if not ooc:  # out of context there is no bitstream to pack
        secs["pack"] = _make(work, None, env, "ecppack" if fam == "ecp5" else "icepack", unit_dir / "pack.out",
                             timeout, (f"{name}.{'bit' if fam == 'ecp5' else 'bin'}",))
    res.update(_parse_nextpnr(work, fam))
    f = min(res["fmax_by_clock"].values()) if res["fmax_by_clock"] else None
    secs["total"] = time.perf_counter() - t0
    res.update({"fmax_mhz": f, "target_mhz": clock_mhz, "meets_target": f is not None and f >= clock_mhz,
                "seconds": {k: round(v, 2) for k, v in secs.items()},
                "nextpnr_cpu_seconds": round(CPU.get(f"nextpnr-{fam}", 0.0), 2),
                "logs": {"yosys": str(work / "yosys.log"), "nextpnr": str(work / "next.log"),
                         "report": str(work / "report.json")}})
    (unit_dir / "pnr.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


# ------------------------------------------------------------------------------------------------
# the pnr stage
# ------------------------------------------------------------------------------------------------
FIT_KEYS = ("lut", "dsp", "bram")


def _synth_netlist(synth: dict | None, fam: str, top: str) -> Path | None:
    """The synth stage's netlist of the whole design, where pnr can use it: ECP5 (the trellis flow's
    Yosys script is the synth stage's: `synth_ecp5 -top`, the same sources and defines), one Yosys run
    of the top (scope top; the result, read through ctx.result, is of the current config)."""
    if fam != "ecp5" or not synth or synth.get("scope") != "top" or synth.get("arch") != "ecp5" or not synth.get("log"):
        return None
    folder = Path(synth["log"]).parent
    nets = sorted(folder.glob("*.json"))
    procs = folder / "edalize_yosys_procs.tcl"
    script = procs.read_text() if procs.is_file() else ""
    if len(nets) != 1 or not (folder / "yosys.log").is_file() or f"set top {top}\n" not in script \
            or "synth_ecp5  -top $top" not in script:
        return None
    return nets[0]


def capacity_of(target: Any) -> dict[str, float]:
    res = target.resources
    return {k: float(res.get(k, 0) or 0) for k in FIT_KEYS} if res is not None else {}


AUTO_ANALYTICAL_MARGIN = 2.5  # see pnr_stage's auto rule


def design_estimate(hw_dir: Path, synth: dict | None) -> tuple[dict[str, float], str]:
    """LUT/DSP/BRAM of the whole design: the synth stage's Yosys figures, else the analytical plan."""
    if synth and not synth.get("skipped") and synth.get("resources"):
        r = synth["resources"]
        return {"lut": float(r.get("LUT", 0)), "dsp": float(r.get("DSP", 0)), "bram": float(r.get("BRAM", 0))}, \
            f"yosys ({synth.get('scope')}, synth stage)"
    plan = json.loads((hw_dir / "params.json").read_text())["plan"]
    return {k: float(plan["totals"].get(k, 0)) for k in FIT_KEYS}, "analytical (params.json)"


def _over(est: dict, cap: dict) -> list[str]:
    return [f"{est[k]:.0f} {k.upper()} > {cap[k]:.0f}" for k in FIT_KEYS if cap.get(k) and est.get(k, 0) > cap[k]]


def _groups(hw_dir: Path) -> list[dict]:
    """Distinct (core, module, parameters but ROM images) of the mapped nodes, in design order."""
    nodes = json.loads((hw_dir / "params.json").read_text())["nodes"]
    groups: dict[str, dict] = {}
    for name, n in nodes.items():
        p = {k: v for k, v in n["parameters"].items() if k not in FILE_PARAMS}
        key = json.dumps([n["core"], n["module"], sorted(p.items())])
        groups.setdefault(key, {"core": n["core"], "module": n["module"], "params": n["parameters"],
                                "nodes": []})["nodes"].append(name)
    return list(groups.values())


def pnr_stage(hw_dir: Path, man: dict, target: Any, build_dir: Path, scope: str = "auto",
              synth: dict | None = None, timeout: float = 3600) -> dict[str, Any]:
    fam = str(getattr(target, "family", ""))
    if fam not in TOOLS:
        raise MaseError(f"target {target.name}: no nextpnr flow for family {fam!r} (ice40, ecp5)")
    if scope not in ("auto", "design", "nodes"):
        raise MaseError(f"hw.pnr_scope={scope!r}: choose auto, design or nodes")
    device_options(target)  # an unknown part fails here, before any tool runs
    require(TOOLS[fam][:2], target.name)
    hw_dir = Path(hw_dir).resolve()
    t0 = time.perf_counter()
    plan = json.loads((hw_dir / "params.json").read_text())["plan"]
    clock = float(plan["clock_mhz"])
    cap = capacity_of(target)
    est, src = design_estimate(hw_dir, synth)
    over = _over(est, cap)
    fit = {"estimate": est, "source": src, "capacity": cap, "fits": not over}
    auto = scope == "auto"
    if auto:
        # without Yosys figures, trust the analytical estimate only with a margin: it undercounts
        # Yosys by up to 2.3x in LUTs (tiny-llama on the ECP5-85), and a whole design that does not
        # fit costs a long Yosys run before nextpnr can refuse it
        margin = 1.0 if src.startswith("yosys") else AUTO_ANALYTICAL_MARGIN
        scope = "nodes" if over or _over({k: v * margin for k, v in est.items()}, cap) else "design"
        fit["auto_margin"] = margin
    if scope == "design" and over:
        raise NoFit(f"{man['top']} does not fit {target.part} ({', '.join(over)}; {src}): {_fix(target)}")
    shutil.rmtree(build_dir, ignore_errors=True)
    roots = [hw_dir]
    res: dict[str, Any] = {"tool": f"nextpnr-{fam}", "scope": scope, "part": str(target.part), "target_mhz": clock,
                           "fit": fit, "tools": tool_versions(fam)}
    whole = None
    if scope == "design":
        try:
            whole = place_unit(build_dir / "design", "design", man["core"], man["top"], {}, target, clock, roots, cap,
                               timeout, netlist=_synth_netlist(synth, fam, man["top"]))
        except NoFit as exc:
            if not auto:
                raise
            # the estimate passed but Yosys' counts do not fit (the analytical model is not calibrated
            # for every family, e.g. ECP5): auto falls back to the nodes
            fit.update(fits=False, yosys=str(exc))
            log.warning("pnr: %s; placing node by node (hw.pnr_scope=nodes)", exc)
            scope = res["scope"] = "nodes"
    if whole is not None:
        u = whole
        res.update({"label": "whole design", "method": u["method"], "fmax_mhz": u["fmax_mhz"],
                    "fmax_by_clock": u["fmax_by_clock"], "meets_target": u["meets_target"],
                    "utilisation": u["utilisation"], "port_bits": u["port_bits"], "package_io": u["package_io"],
                    "harness": u["harness"], "logs": u["logs"],
                    "unit_seconds": {**u["seconds"], "nextpnr_cpu": u["nextpnr_cpu_seconds"]}})
    else:
        per, skipped = {}, {}
        pnodes = plan["nodes"]
        # the node's core plus the glue modules (mase:mx:glue), without the design's top (whose parsing
        # would dominate Yosys' time on a single node)
        helpers = sorted((cores_roots()[0] / "glue" / "rtl").glob("*.sv"))
        for i, g in enumerate(_groups(hw_dir)):
            rep = g["nodes"][0]
            unit = f"n{i:03d}"
            ne = {k: float(pnodes.get(rep, {}).get(k, 0)) for k in FIT_KEYS}
            if _over(ne, cap):  # checked before nextpnr, from the plan's per-node figures
                skipped[rep] = f"does not fit {target.part} alone ({', '.join(_over(ne, cap))}, analytical)"
                continue
            params = {k: (str((hw_dir / "mem" / v).resolve()) if k in FILE_PARAMS else v)
                      for k, v in g["params"].items()}
            try:
                u = place_unit(build_dir / unit, unit, g["core"], g["module"], params, target, clock, [], cap,
                               timeout, helpers)
            except NoFit as exc:
                skipped[rep] = str(exc)
                continue
            except EdaError as exc:
                raise MaseError(f"nextpnr of node {rep} ({g['module']}) failed: {str(exc).splitlines()[0]}\n"
                                f"{_tail(str(exc), 12)}") from None
            per[rep] = {"module": g["module"], "nodes": g["nodes"], "fmax_mhz": u["fmax_mhz"],
                        "meets_target": u["meets_target"], "utilisation": u["utilisation"], "method": u["method"],
                        "port_bits": u["port_bits"], "harness": u["harness"],
                        "seconds": {**u["seconds"], "nextpnr_cpu": u["nextpnr_cpu_seconds"]},
                        "logs": u["logs"]}
        if not per:
            raise MaseError(f"no node of {man['top']} could be placed on {target.part}: {next(iter(skipped.values()), '')}")
        crit = min(per, key=lambda n: per[n]["fmax_mhz"] or 0.0)
        f = per[crit]["fmax_mhz"]
        res.update({"label": "per-node out-of-context", "method": per[crit]["method"], "fmax_mhz": f,
                    "fmax_by_clock": {"clk": f}, "meets_target": f is not None and f >= clock, "critical_node": crit,
                    "per_node": per, "not_placed": skipped, "runs": len(per),
                    "note": "design clock = the slowest node placed and routed alone; the wiring between nodes, "
                            "the FIFOs and the width converters are not placed"
                            + (f"; {len(skipped)} node configurations do not fit the part alone (not_placed)"
                               if skipped else "")})
    secs = [res["unit_seconds"]] if whole is not None else [p["seconds"] for p in res["per_node"].values()]
    res["seconds"] = {k: round(sum(s.get(k, 0) for s in secs), 2) for k in ("yosys", "nextpnr", "nextpnr_cpu", "pack")}
    res["seconds"]["total"] = round(time.perf_counter() - t0, 2)
    placed = f", {res['runs']} of {res['runs'] + len(res['not_placed'])} node configurations" if scope == "nodes" else ""
    res["summary"] = (f"fmax {res['fmax_mhz']:.1f} MHz ({res['label']}{placed}, {res['tool']}, target {clock:g} MHz"
                      f"{'' if res['meets_target'] else ': NOT met'})") if res["fmax_mhz"] else "placed and routed"
    return res
