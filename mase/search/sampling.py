"""The sweeper's side: one categorical choice per slot, seeded and pruned by the sensitivity pass.

hydra-optuna-sweeper calls `suggest(cfg, trial)` (hydra.sweeper.custom_search_space) for every trial,
in the sweeper's process; the trial's params become the job's overrides `++search.pick.<slot>=<choice>`.
The first call builds the space and runs the sensitivity pass (both saved under <sweep dir>/search/,
so a resumed study reuses them). The greedy configs of the sensitivity table become the study's first
trials: the running batch (hydra.sweeper.n_jobs trials) gets them as fixed params (the mechanism of
Study.enqueue_trial, which only reaches trials asked later), the rest are enqueued.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from . import space as sp

log = logging.getLogger("mase")
_STATE: dict[str, Any] = {}  # sweep dir -> (space, allowed choices per slot)


def _prepare(cfg: Any, trial: Any) -> tuple[sp.Space, dict[str, list[str]]]:
    sweep = Path(str(cfg.hydra.sweep.dir))
    if str(sweep) in _STATE:
        return _STATE[str(sweep)]
    from mase.cli import _quiet_libraries

    from . import sensitivity

    _quiet_libraries(bool(cfg.progress))
    if int(cfg.threads) > 0:  # the sweeper's process runs the sensitivity pass (the jobs set their own)
        import torch

        torch.set_num_threads(int(cfg.threads))
    s = cfg.search
    if s.sensitivity.enabled:
        table = sensitivity.load_or_run(cfg, sweep)
        space = sp.load(sweep)
        allowed = table["allowed"]
        seeds = table["seeds"]
    else:
        space = sp.space_for(cfg, sweep)
        allowed = {k: list(space.choices) for k in space.slots}
        seeds = []
    study = trial.study
    trials = study.get_trials(deepcopy=False)
    if seeds and all(t.state == TrialState.RUNNING and not t.params for t in trials):
        # a new study: its first trials (the running batch, then the queue) are the greedy configs
        import warnings

        batch = sorted(trials, key=lambda t: t.number)
        for t, params in zip(batch, seeds):
            _fix(study, t._trial_id, params)
        with warnings.catch_warnings():  # enqueue_trial is "experimental" in optuna 2.x
            warnings.simplefilter("ignore")
            for params in seeds[len(batch):]:
                study.enqueue_trial(params)
        log.info("search: %d greedy configs from the sensitivity table run first", len(seeds))
    _STATE[str(sweep)] = (space, allowed)
    return space, allowed


def _fix(study: Any, trial_id: int, params: dict[str, str]) -> None:
    """Fixed params for an already created trial (optuna 2.x reads them from this system attribute, as
    for an enqueued one)."""
    study._storage.set_trial_system_attr(trial_id, "fixed_params", params)


def param(slot: str) -> str:
    """The trial parameter of a slot: the job's override `++search.pick.<slot>=<choice>` (++: the key is
    added to the free-keyed search.pick, or replaced)."""
    return f"++search.pick.{slot}"


def suggest(cfg: Any, trial: Any) -> None:
    space, allowed = _prepare(cfg, trial)
    for slot in space.slots:
        trial.suggest_categorical(param(slot), allowed[slot])
