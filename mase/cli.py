"""`mase`: the Hydra application.

    mase +model=smollm2-135m quant=mxint8
    mase -m +model=smollm2-135m quant=mxint8,mxint4,mxfp4
    mase +model=tiny-llama quant=mxint4 eval=quick stages=[quantize,report]

Before Hydra starts (and creates output folders), the overrides are composed and validated here, so
that a typo is one line on stderr and exit status 2, never a traceback. `mase` without a model lists
the models.
"""

from __future__ import annotations

import logging
import os
import sys
from itertools import product
from pathlib import Path

from mase.errors import MaseError

log = logging.getLogger("mase")
EXIT_USAGE = 2
# Hydra flags that take a value (everything else starting with '-' is a switch)
_VALUE_FLAGS = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun",
                "--package", "-p", "--cfg", "-c", "--info", "-i"}
_PASSTHROUGH = {"--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc"}


def _fail(msg: str, code: int = EXIT_USAGE) -> None:
    print(f"mase: error: {msg}", file=sys.stderr)
    raise SystemExit(code)


def _split(argv: list[str]) -> tuple[list[str], list[str], bool]:
    flags, overrides, multirun, skip = [], [], False, False
    for a in argv:
        if skip:
            flags.append(a)
            skip = False
        elif a.startswith("-"):
            flags.append(a)
            multirun |= a in ("-m", "--multirun")
            skip = a in _VALUE_FLAGS and "=" not in a and a not in ("--cfg", "-c", "--info", "-i")
        else:
            overrides.append(a)
    return flags, overrides, multirun


def _variants(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Concrete override lists to validate: every sweep value at least once. Hydra's own overrides
    (hydra.run.dir, hydra.searchpath, ...) are in every list: they decide where configs are found
    and where the run writes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mase.config.loading import one_line

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise MaseError(f"bad override: {one_line(exc)}") from None
    fixed, sweeps = [], []
    for text, o in zip(overrides, parsed):
        if o.is_sweep_override():
            if o.is_hydra_override():
                continue
            if not multirun:
                raise MaseError(f"{text} is a sweep: add -m (--multirun) to run each value")
            key = o.get_key_element()
            sweeps.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            fixed.append(text)
    if not sweeps:
        return [fixed]
    if len(sweeps) == 1 or sum(len(s) for s in sweeps) <= 16:
        return [fixed + list(combo) for combo in product(*sweeps)][:64]
    return [fixed + [s[0] for s in sweeps]]


def _flag_value(flags: list[str], names: tuple[str, ...]) -> str | None:
    """The value of the last of Hydra's `--flag VALUE` / `--flag=VALUE` among `flags`."""
    value = None
    for i, f in enumerate(flags):
        name, eq, rest = f.partition("=")
        if name in names:
            value = rest if eq else (flags[i + 1] if i + 1 < len(flags) else None)
    return value


def _run_dir(cfg, multirun: bool) -> tuple[str, str]:
    """(key, folder) Hydra will create for this run: hydra.run.dir, or hydra.sweep.dir of a sweep."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from mase.config.loading import one_line

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    hc = HydraConfig.instance()
    saved = hc.cfg
    try:
        hc.set_config(cfg)  # the hydra: resolver (runtime choices) of the default folder pattern
        return key, str(OmegaConf.select(cfg, key, throw_on_resolution_failure=True))
    except Exception as exc:
        raise MaseError(f"{key}: {one_line(exc)}") from None
    finally:
        hc.cfg = saved


def _list_models() -> str:
    from importlib import resources

    from omegaconf import OmegaConf

    from mase.config import available

    lines = ["no model chosen: add +model=NAME. Available models:"]
    for name in available("model"):
        if name == "hf":
            lines.append(f"  {'hf':14s} any Hugging Face causal LM: +model=hf model.hf_id=ORG/NAME")
            continue
        m = OmegaConf.load(str(resources.files("mase.conf") / "model" / f"{name}.yaml"))
        where = {"gguf": "offline, packaged GGUF", "tiny": "random-init, for tests"}.get(m.source, m.get("hf_id"))
        lines.append(f"  {name:14s} {m.family:6s} {where}")
    lines.append("example: mase +model=smollm2-135m quant=mxint8 target=u250")
    return "\n".join(lines)


def prevalidate(argv: list[str]) -> None:
    """Compose and validate every run the arguments describe, with the config search path Hydra will
    use (--config-dir, hydra.searchpath), and check the folder it will write; MaseError on the first
    problem."""
    from mase.config import compose
    from mase.compiler.preflight import check_hardware
    from mase.config.validate import check_output_dir, validate_config

    flags, overrides, multirun = _split(argv)
    config_dir = _flag_value(flags, ("--config-dir", "-cd"))
    for variant in _variants(overrides, multirun):
        cfg = compose(variant, return_hydra_config=True, config_dir=config_dir)
        if cfg.model is None:
            print("mase: " + _list_models(), file=sys.stderr)
            raise SystemExit(EXIT_USAGE)
        validate_config(cfg)
        if cfg.search.name and not multirun:
            raise MaseError(f"search={cfg.search.name} is a search: add -m (--multirun) to run its trials")
        check_hardware(cfg)
        key, folder = _run_dir(cfg, multirun)
        check_output_dir(folder, list(cfg.stages), key)


def _write_fusesoc_ignore(cfg, out_dir: Path) -> None:
    """FuseSoC skips the tree below a folder holding FUSESOC_IGNORE: a library scanning a parent folder
    must not find the generated cores (hw/) or their copies in build/. The file goes at the top of
    mase's output tree (output.root, output.multirun_root) when the run is inside it, else into the
    run folder: never where the run writes nothing (hydra.run.dir elsewhere leaves the cwd alone)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    root = Path(cfg.output.multirun_root if multirun else cfg.output.root).resolve()
    top = root if out_dir.resolve().is_relative_to(root) else out_dir
    top.mkdir(parents=True, exist_ok=True)
    (top / "FUSESOC_IGNORE").touch()


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C


class _StageTracker(logging.Filter):
    """Follows mase.pipeline's "stage NAME" / "stage NAME done" log records: the stages a Ctrl-C
    interrupts (several when stages run side by side, jobs > 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.running: list[str] = []

    @property
    def current(self) -> str | None:
        return ", ".join(self.running) or None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in ("stage %s", "stage %s (beside %s)") and record.args:
            self.running.append(str(record.args[0]))
        elif record.msg == "stage %s done in %.1f s" and record.args and record.args[0] in self.running:
            self.running.remove(record.args[0])
        return True


def _interrupted(stage: str | None = None) -> None:
    """Ctrl-C: one line, exit 130. Tools were ended with their process groups (mase.eda.runner), and
    a stage writes its result file only when it completes, so a rerun resumes."""
    where = f" during {stage}" if stage else ""
    print(f"mase: interrupted{where}; rerun to resume", file=sys.stderr)
    raise SystemExit(EXIT_INTERRUPTED)


def _quiet_libraries(progress: bool) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers imports torchao when it is installed; its missing-CUDA-library notes are noise here
    for name in ("torchao", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        if not progress:
            transformers.utils.logging.disable_progress_bar()
    except Exception:  # pragma: no cover - transformers is a dependency
        pass


def app(cfg):
    """The Hydra task: one configured run. Returns the values of `search.objectives` (a float, or a tuple
    for several; default the perplexity, None when not measured), so any Hydra sweeper can drive mase;
    a search trial (search.pick.*) over search.budget returns search.penalty without running
    (mase.search.trial)."""
    import torch
    from hydra.core.hydra_config import HydraConfig

    from mase.pipeline import run
    from mase.report import progress

    tracker = _StageTracker()
    log.addFilter(tracker)
    try:
        out_dir = Path(HydraConfig.get().runtime.output_dir)
        _write_fusesoc_ignore(cfg, out_dir)
        progress.set_enabled(cfg.progress)
        _quiet_libraries(cfg.progress)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        from mase.provenance import quant_label

        log.info("mase %s: model %s, quant %s, target %s -> %s", __import__("mase").__version__, cfg.model.name,
                 quant_label(cfg.quant), cfg.target.name, out_dir)
        from mase.search import trial

        info = trial.prepare(cfg)
        if info is not None and info.over_budget:
            return trial.penalty(cfg, info, out_dir)
        ctx = run(cfg, out_dir, **trial.model_kwargs(cfg))
        return trial.objectives(cfg, ctx, info)
    except MaseError as exc:
        _log_to_files(str(exc))
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _interrupted(tracker.current)
    finally:
        log.removeFilter(tracker)


def _log_to_files(msg: str) -> None:
    """Record an error in the run's mase.log only: the console shows it once, as `mase: error: ...`."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (msg,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _hydra_main(argv: list[str]) -> None:
    import hydra

    from mase.config import register_configs

    register_configs()
    main_fn = hydra.main(version_base="1.3", config_path="pkg://mase.conf", config_name="config")(app)
    saved = sys.argv
    sys.argv = [saved[0] if saved else "mase", *argv]
    try:
        main_fn()
    finally:
        sys.argv = saved


# Hydra options that take a value: argparse refuses them after the first override (`mase -m
# +model=x --config-dir d quant=best` fails with "unrecognized arguments"), so they are moved first
_VALUE_OPTIONS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn")


def options_first(argv: list[str]) -> list[str]:
    """argv with Hydra's valued options (and their values) before everything else, order kept."""
    front, rest, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a in _VALUE_OPTIONS and i + 1 < len(argv):
            front += argv[i:i + 2]
            i += 2
            continue
        (front if a.split("=", 1)[0] in _VALUE_OPTIONS else rest).append(a)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    argv = options_first(list(sys.argv[1:] if argv is None else argv))
    if "--version" in argv:  # mase's version (Hydra's own flag would print only Hydra's)
        import hydra

        print(f"mase {__import__('mase').__version__} (Hydra {hydra.__version__})")
        return
    try:
        if not any(a in _PASSTHROUGH or a.split("=")[0] in _PASSTHROUGH for a in argv):
            try:
                prevalidate(argv)
            except MaseError as exc:
                _fail(str(exc), exc.exit_code)
        _hydra_main(argv)
    except KeyboardInterrupt:  # before or between runs (app() names the stage of a run)
        _interrupted()


if __name__ == "__main__":
    main()
