"""Config composition and validation: every shipped config composes; mistakes are one-line errors."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from mase.config import MaseError, available, compose, load_group
from mase.config.validate import validate_config

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("quant", available("quant"))
def test_every_quant_config_composes_and_validates(quant):
    cfg = compose(["+model=tiny-llama", f"quant={quant}"])
    validate_config(cfg)
    assert cfg.quant.name == quant
    assert set(cfg.quant.nonlinear.values()) == {"float"}


@pytest.mark.parametrize("group", ["model", "target", "eval"])
def test_every_group_config_composes(group):
    for name in available(group):
        over = {"model": {"hf_id": "org/x"}} if name == "hf" else {}
        node = load_group(group, name, **over.get(group, {}))
        assert node.name


def test_required_configs_exist():
    assert {"smollm2-135m", "opt-125m", "tiny-opt", "tiny-llama"} <= set(available("model"))
    assert {"fp32", "fixed8", "mxint8", "mxint6", "mxint4", "mxfp8", "mxfp6", "mxfp4", "mxint4w8a"} <= set(
        available("quant"))
    assert {"sim", "ice40-up5k", "ecp5-85k", "u250"} <= set(available("target"))


def test_targets_carry_parts_and_resources():
    u250 = load_group("target", "u250")
    assert u250.part == "xcu250-figd2104-2L-e" and u250.resources.dsp == 12288 and u250.resources.uram == 1280
    for name in ("ice40-up5k", "ecp5-85k"):
        t = load_group("target", name)
        assert t.kind == "fpga" and t.resources.lut > 0 and t.clock_mhz > 0
    assert load_group("target", "sim").kind == "sim"


def test_top_level_shape_for_later_stages():
    cfg = compose(["+model=tiny-opt"])
    assert list(cfg.stages) == ["quantize", "evaluate", "emit", "lint", "sim", "report", "hw_report"]  # target sim
    assert {"model", "quant", "target", "eval", "stages", "output"} <= set(cfg.keys())


def test_no_model_is_none_and_validation_says_how():
    cfg = compose([])
    assert cfg.model is None
    with pytest.raises(MaseError, match=r"\+model=NAME"):
        validate_config(cfg)


@pytest.mark.parametrize("override, pattern", [
    ("quant.blok_size=16", r"unknown key 'quant.blok_size'.*block_size"),
    ("eval.tokns=5", r"unknown key 'eval.tokns'.*tokens"),
    ("quant.default.weigth=mxint4", r"unknown key 'quant.default.weigth'.*weight"),
    ("model.tiny.hiden_size=3", r"unknown key 'model.tiny.hiden_size'"),
    ("quant.block_size=big", r"bad value in quant.block_size=big.*Integer"),
    ("eval.tokens=many", r"bad value in eval.tokens=many"),
    ("quant=mxint3", r"unknown quant config 'mxint3': choose one of .*mxint4"),
    ("target=u200", r"unknown target config 'u200'.*u250"),
])
def test_config_mistakes_are_one_line(override, pattern):
    with pytest.raises(MaseError, match=pattern) as exc:
        compose(["+model=tiny-llama", override])
    assert "\n" not in str(exc.value)


def test_added_key_outside_schema_is_caught():
    cfg = compose(["+model=tiny-llama", "+quant.bogus=1"])
    with pytest.raises(MaseError, match="bogus"):
        validate_config(cfg)


@pytest.mark.parametrize("override, pattern", [
    ("quant.default.weight=mxint9", r"quant.default.weight: unknown format 'mxint9'"),
    ("quant.attention.scores=int4", r"quant.attention.scores: unknown format"),
    ("quant.block_size=48", r"quant.block_size=48: choose one of 8, 16, 32, 64"),
    ("quant.mode=hw", r"quant.mode='hw' is not a registered kernel"),
    ("quant.nonlinear.softmax=fast", r"quant.nonlinear.softmax='fast' is not supported.*use 'float' or 'hw'"),
    ("+quant.nonlinear.tanh=float", r"quant.nonlinear.tanh: unknown operator"),
    ("stages=[quantize,emitt]", r"unknown stage 'emitt'"),
    ("eval.stride=1024", r"eval.stride=1024: must be between 1 and eval.window=512"),
    ("eval.dataset=books", r"eval.dataset='books'"),
    ("model.source=ftp", r"model.source='ftp'"),
])
def test_semantic_errors(override, pattern):
    cfg = compose(["+model=tiny-llama", override])
    with pytest.raises(MaseError, match=pattern) as exc:
        validate_config(cfg)
    assert "\n" not in str(exc.value)


def test_override_formats_validated():
    from mase.config.validate import validate_quant

    q = load_group("quant", "mxint4", overrides={"*.mlp.*": {"weight": "mxint99"}})
    with pytest.raises(MaseError, match=r"quant.overrides\['\*.mlp.\*'\].weight: unknown format 'mxint99'"):
        validate_quant(q)
    q = load_group("quant", "mxint4", overrides={"*.mlp.*": {"block_size": 12}})
    with pytest.raises(MaseError, match=r"block_size=12: choose one of"):
        validate_quant(q)
    with pytest.raises(MaseError, match="unknown key.*wieght"):
        load_group("quant", "mxint4", overrides={"*.mlp.*": {"wieght": "mxint8"}})


def test_configs_ship_as_package_data():
    """Every yaml under conf/ matches a package-data glob, so normal (non-editable) installs find it."""
    pyproject = tomllib.loads((CONF.parent / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["mase.conf"]
    for path in CONF.rglob("*.yaml"):
        rel = path.relative_to(CONF).as_posix()
        assert any(fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), rel
    assert (CONF.parent / "mase" / "conf").resolve() == CONF
