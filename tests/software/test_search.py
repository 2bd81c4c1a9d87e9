"""Mixed-precision search (mase.search, conf/search): the task's return value, the space and its budget,
the sensitivity pass, whole searches through hydra-optuna-sweeper (TPE and NSGA-II), best.yaml."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
import torch

from mase.config import MaseError, compose
from mase.config.validate import validate_config
from mase.search import space as sp
from mase.search.naming import MAX_NAME, name_of, short_choice

TINY = ["+model=tiny-llama", "eval=quick", "progress=false", "threads=1"]
SEARCH = [*TINY, "quant.gptq.tokens=256"]  # search=mixed4's trials calibrate by GPTQ: a short text here


TYPE = "search.granularity=type"  # one slot per projection type (mixed4's default is per layer)


def _cfg(*extra: str):
    return compose([*SEARCH, "search=mixed4", *extra])


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # a loaded 2-core machine: threads spin on tiny matrices
    yield
    torch.set_num_threads(n)


def test_names_follow_the_choices():
    assert short_choice("mxint4_b32") == "i4b32" and short_choice("mxfp6_b16") == "f6b16"
    assert name_of({"q_proj": "mxint4_b32", "k_proj": "mxfp8_b16"}) == "q_proj=i4b32,k_proj=f8b16"
    long = name_of({f"l{i}_q_proj": "mxint4_b32" for i in range(30)})
    assert len(long) <= MAX_NAME and "~" in long  # a hash keeps long names unique
    assert long != name_of({f"l{i}_q_proj": "mxint4_b32" if i else "mxint5_b32" for i in range(30)})


def test_space_granularities_and_budget(tiny_llama):
    model, _ = tiny_llama
    assert _cfg().search.granularity == "layer"  # mixed4's default
    cfg = _cfg(TYPE)
    by_type = sp.build_space(model, cfg.quant, cfg.search, "tiny-llama")
    assert list(by_type.slots) == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert sp.overrides(by_type, {"q_proj": "mxint4_b16"}) == {"*.q_proj": {"weight": "mxint4", "block_size": 16}}
    cfg = _cfg("search.granularity=type_group", "search.groups=2")
    groups = sp.build_space(model, cfg.quant, cfg.search, "tiny-llama")
    assert "g0_q_proj" in groups.slots and "g1_down_proj" in groups.slots and len(groups.slots) == 14
    assert list(sp.overrides(groups, {"g1_q_proj": "mxint4_b32"})) == ["model.layers.1.self_attn.q_proj"]
    cfg = _cfg("search.granularity=layer")
    assert "l0_v_proj" in sp.build_space(model, cfg.quant, cfg.search, "tiny-llama").slots
    # average weight bits as report.json counts them: mxint4 in blocks of 32 = 4 + 8/32
    assert sp.avg_weight_bits(by_type, {}, "mxint4_b32") == pytest.approx(4.25)
    everything = {k: "mxint8_b32" for k in by_type.slots}
    assert sp.avg_weight_bits(by_type, everything, "mxint4_b32") == pytest.approx(8.25)
    with pytest.raises(MaseError, match="no such slot"):
        sp.check_picks(by_type, {"qproj": "mxint4_b32"})


def test_over_budget_trial_returns_the_penalty_without_running(tmp_path, monkeypatch):
    from mase.search import trial

    picks = [f"++search.pick.{k}=mxint8_b32" for k in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj")]
    cfg = _cfg(*picks, "search.granularity=type", "search.objectives=[ppl,avg_weight_bits]")
    monkeypatch.setattr(trial, "model_kwargs", lambda cfg: pytest.fail("an over-budget trial must not load the model"))
    info = trial.prepare(cfg)
    assert info.over_budget and info.avg_weight_bits > 4.5
    assert cfg.quant.overrides["*.q_proj"].weight == "mxint8"  # the picks became per-layer formats
    values = trial.penalty(cfg, info, tmp_path)
    assert values == (1e6, pytest.approx(info.avg_weight_bits))
    rec = json.loads((tmp_path / "search.json").read_text())
    assert rec["over_budget"] and rec["picks"]["q_proj"] == "mxint8_b32" and not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("args, message", [
    (["search.objectives=[ppl,speed]"], "search.objectives='speed': choose one of"),
    (["search.granularity=block"], "search.granularity='block': choose one of layer, type, type_group"),
    (["++search.pick.q_proj=mxint4"], "search.pick.q_proj=mxint4: spell a choice FORMAT_bBLOCK"),
    (["search.budget=0"], "search.budget=0"),
    (["search.formats=[mxint4,int4]"], "search.formats"),
    (["search.references=[mxint4,mxint7]"], "search.references='mxint7': choose one of"),
])
def test_search_mistakes_are_one_line(args, message):
    with pytest.raises(MaseError, match=message.replace("[", r"\[").replace("(", r"\(")):
        validate_config(_cfg(*args))


def test_greedy_and_pruning_on_a_known_table():
    from mase.search.sensitivity import greedy, prune

    space = sp.Space("m", "type", 1, {"a": sp.Slot("a", "a", ["x.a"], 100), "b": sp.Slot("b", "b", ["x.b"], 100)},
                     ["mxint8_b32", "mxint4_b32", "mxint2_b32", "mxfp4_b32"], {"a": 1, "b": 1})
    cost = {"a": {"mxint8_b32": 0.0, "mxint4_b32": 0.01, "mxint2_b32": 0.5, "mxfp4_b32": 0.02},
            "b": {"mxint8_b32": 0.0, "mxint4_b32": 0.3, "mxint2_b32": 0.9, "mxfp4_b32": 0.1}}
    allowed = prune(space, cost)
    assert "mxfp4_b32" not in allowed["a"] and "mxint4_b32" not in allowed["b"]  # same bits, more KL
    picks = greedy(space, cost, allowed, 6.25, "mxint8_b32")  # one slot can drop to 4 bits: the cheap one
    assert picks == {"a": "mxint4_b32", "b": "mxint8_b32"}
    assert greedy(space, cost, allowed, 1.0, "mxint8_b32") is None


def test_sensitivity_pass_seeds_within_budget(tmp_path, one_thread):
    from mase.search import sensitivity

    cfg = _cfg("search.sensitivity.tokens=64", "search.formats=[mxint2,mxint4,mxint8]", "search.block_sizes=[32]")
    data = sensitivity.run(cfg, tmp_path)
    space = sp.load(tmp_path)
    assert set(data["kl"]) == set(space.slots) and data["ppl_float"] > 0
    first, end = data["calibration"]["tokens"]
    assert first >= data["calibration"]["scored"][1]  # calibration text after the scored tokens, never inside
    assert 1 <= len(data["seeds"]) <= 3
    for params, stats in zip(data["seeds"], data["seed_stats"]):
        picks = {k.rsplit(".", 1)[-1]: v for k, v in params.items()}
        assert sp.avg_weight_bits(space, picks, "mxint8_b32") <= stats["budget"] + 1e-9 <= 4.5 + 1e-9
        assert all(v in data["allowed"][k] for k, v in picks.items())
    # the trials round by GPTQ (search=mixed4), so do the probes of choices up to gptq_max_bits
    gc = data["rounding"]["gptq_calibration"]  # mixed4: the evaluated text after the scored tokens
    assert data["rounding"]["method"] == "gptq" and gc["tokens"][0] >= gc["scored"][1]


def test_sensitivity_probes_round_like_the_trials(tmp_path, one_thread):
    """GPTQ probes cost less KL than nearest ones for the narrow choices (what GPTQ is for), and equal
    above gptq_max_bits; with nearest-rounding trials the probes round to nearest."""
    from mase.search import sensitivity

    args = ["search.sensitivity.tokens=64", "search.formats=[mxint3,mxint8]", "search.block_sizes=[32]",
            "search.granularity=type_group", "search.groups=1"]
    g = sensitivity.run(_cfg(*args), tmp_path / "g")["kl"]
    n = sensitivity.run(_cfg(*args, "quant.weight_rounding=nearest"), tmp_path / "n")
    assert n["rounding"]["method"] == "nearest"
    n = n["kl"]
    assert all(g[k]["mxint8_b32"] == pytest.approx(n[k]["mxint8_b32"]) for k in g)
    assert sum(g[k]["mxint3_b32"] for k in g) < sum(n[k]["mxint3_b32"] for k in g)


def _trials(sweep: Path) -> list[Path]:
    return sorted((p for p in sweep.iterdir() if p.is_dir() and p.name[0].isdigit()), key=lambda p: int(p.name.split("_")[0]))


@pytest.mark.slow
def test_tpe_search_end_to_end(cli, tmp_path, one_thread):
    """search=mixed4: sensitivity seeds run first, trials named after their choices, over-budget trials not
    evaluated, the report's table/CSV/plot, and best.yaml loads with --config-dir."""
    sweep = tmp_path / "sweep"
    r = cli(["-m", *SEARCH, "search=mixed4", "hydra.sweeper.n_trials=5", "search.references=[mxint4,mxint4w8a-gptq]",
             TYPE, "search.sensitivity.tokens=64", f"hydra.sweep.dir={sweep}"])
    assert r.returncode == 0, r.stderr[-3000:]
    sens = json.loads((sweep / "search" / "sensitivity.json").read_text())
    trials = _trials(sweep)
    assert len(trials) == 5
    for folder, seed in zip(trials, sens["seeds"]):  # the greedy seeds are the first trials
        picks = json.loads((folder / "search.json").read_text())["picks"]
        assert {f"++search.pick.{k}": v for k, v in picks.items()} == seed
    for folder in trials:
        rec = json.loads((folder / "search.json").read_text())
        assert folder.name.split("_", 1)[1] == name_of(rec["suggested"] or rec["picks"])  # the swept choices
        if rec["over_budget"]:
            assert rec["objectives"]["ppl"] == 1e6 and not (folder / "report.json").exists()
        else:
            rep = json.loads((folder / "report.json").read_text())
            assert rep["avg_weight_bits"] <= 4.5 and rep["quant"].startswith("mxint4w8a-gptq(")  # by its formats
            assert rep["extra"]["search"]["picks"] == rec["picks"]
            assert rec["hardware"]["energy_per_token"] > 0 and rec["seconds"]["trial"] > 0  # analytical, every trial
    summary = json.loads((sweep / "search" / "summary.json").read_text())
    assert summary["trials"] == 5 and summary["best"] and summary["references"][0]["quant"] == "mxint4"
    assert summary["trials_to_target"] is not None
    gptq_ref = json.loads((sweep / "references" / "mxint4w8a-gptq" / "report.json").read_text())
    assert gptq_ref["quant_config"]["gptq"]["tokens"] == 256  # calibrated as the trials are
    rows = list(csv.DictReader((sweep / "search" / "trials.csv").open()))
    assert len(rows) == 7 and "q_proj" in rows[0]  # 5 trials, 2 references
    assert (sweep / "search" / "pareto.png").stat().st_size > 1000
    assert "Pareto front" in r.stdout
    best = summary["best"]
    from mase.pipeline import run  # what `mase --config-dir <sweep>/conf quant=best` composes and runs

    cfg = compose([*SEARCH, "quant=best", "eval.float_baseline=false", "stages=[quantize,evaluate,report]"],
                  config_dir=str(sweep / "conf"))
    torch.manual_seed(cfg.seed)
    rep = run(cfg, tmp_path / "best").results["report"]
    assert rep["ppl"] == pytest.approx(best["ppl"], rel=1e-6)
    assert rep["avg_weight_bits"] == pytest.approx(best["avg_weight_bits"])


@pytest.mark.slow
def test_nsga2_pareto_search_with_energy(cli, tmp_path):
    """search=pareto4 with the analytical energy per token: two objectives in the sqlite study."""
    sweep = tmp_path / "sweep"
    r = cli(["-m", *TINY, "search=pareto4", "hydra.sweeper.n_trials=3", "search.references=[]",
             "search.sensitivity.enabled=false", "search.objectives=[ppl,energy_per_token]", f"hydra.sweep.dir={sweep}"])
    assert r.returncode == 0, r.stderr[-3000:]
    with sqlite3.connect(sweep / "optuna.db") as db:
        values = db.execute("select trial_id, count(*) from trial_values group by trial_id").fetchall()
    assert len(values) == 3 and all(n == 2 for _, n in values)
    summary = json.loads((sweep / "search" / "summary.json").read_text())
    assert summary["pareto"] and all(p["energy_per_token"] > 0 for p in summary["pareto"])
    assert not (sweep / "search" / "sensitivity.json").exists()


@pytest.mark.slow
def test_any_optuna_sweep_gets_the_objective(cli, tmp_path):
    """Without a search config the task returns search.objectives (here the average weight bits, no
    evaluation needed), so a plain Optuna sweep over presets works; its two trials run in parallel as
    submitit jobs (the local executor: what a SLURM cluster runs, without SLURM)."""
    sweep = tmp_path / "sweep"
    r = cli(["-m", *TINY, "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "stages=[quantize,report]",
             "hydra.sweeper.n_jobs=2", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
             "search.objectives=[avg_weight_bits]", "quant=choice(mxint4,mxint8)", f"hydra.sweep.dir={sweep}"])
    assert r.returncode == 0, r.stderr[-2000:]
    bits = sorted(json.loads(p.read_text())["avg_weight_bits"] for p in sweep.glob("*/report.json"))
    assert f"best_value: {bits[0]}" in (sweep / "optimization_results.yaml").read_text()
    assert len(list(sweep.glob(".submitit/*/*_result.pkl"))) == 2  # each trial ran as its own submitit job


def test_a_search_needs_multirun():
    from mase.cli import prevalidate

    with pytest.raises(MaseError, match=r"search=mixed4 is a search: add -m \(--multirun\) to run its trials"):
        prevalidate([*TINY, "search=mixed4"])
    prevalidate(["-m", *TINY, "search=mixed4"])


def test_fisher_sensitivity_prices_every_layer_without_probes(tmp_path, one_thread):
    """granularity=layer with method=fisher (what auto takes above 150 probes, e.g. 210 smollm2 layers x 18
    choices): every layer is priced without a forward pass per probe, narrower formats cost more, and the
    seeds fit the budget."""
    from mase.search import sensitivity

    cfg = _cfg("search.granularity=layer", "search.sensitivity.fisher_tokens=256", "search.formats=[mxint2,mxint4,mxint8]",
               "search.block_sizes=[32]", "search.sensitivity.method=fisher")
    data = sensitivity.run(cfg, tmp_path)
    assert data["method"] == "fisher" and len(data["kl"]) == 14  # 2 decoder layers x 7 projections
    for slot, row in data["kl"].items():
        assert row["mxint2_b32"] > row["mxint4_b32"] > row["mxint8_b32"] >= 0, slot
    assert data["seeds"] and data["seed_stats"][0]["avg_weight_bits"] <= 4.5 + 1e-9


def test_over_budget_trial_is_repaired_with_the_sensitivity_table(tmp_path, monkeypatch):
    """With a sensitivity table in the sweep, a trial over budget is lowered by the greedy rule (the slot
    whose lowering costs least per bit first) and run; search.json keeps what the sampler suggested."""
    from mase.search import sensitivity, trial

    cfg = _cfg(TYPE)
    space = sp.space_for(cfg, tmp_path)
    cost = {k: {c: (0.0 if c == "mxint8_b32" else 1.0 / sp.choice_bits(c)) for c in space.choices} for k in space.slots}
    cost["down_proj"] = {c: 10.0 / sp.choice_bits(c) for c in space.choices}  # the costly slot to lower
    (tmp_path / "search").mkdir(exist_ok=True)
    (tmp_path / sensitivity.SENSITIVITY_FILE).write_text(json.dumps({"kl": cost}))
    monkeypatch.setattr(trial, "sweep_dir", lambda: tmp_path)
    picks = [f"++search.pick.{k}=mxint8_b32" for k in space.slots]
    info = trial.prepare(_cfg(TYPE, *picks))
    assert not info.over_budget and info.avg_weight_bits <= 4.5 + 1e-9
    assert info.suggested == {k: "mxint8_b32" for k in space.slots}
    assert info.picks["down_proj"] == "mxint8_b32" and info.picks["q_proj"] != "mxint8_b32"
    info = trial.prepare(_cfg(TYPE, *picks, "search.repair=false"))
    assert info.over_budget and info.suggested is None
