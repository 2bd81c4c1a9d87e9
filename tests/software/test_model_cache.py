"""The converted-model cache (issue 16, items 4, 7, 9): concurrent first runs, damaged files, leftovers of
killed conversions, and the messages of the Hugging Face path.

One real GGUF conversion (~30 s) is shared: two processes race for it on an empty MASE_CACHE, and the
damaged-cache cases work on hard-linked copies of its result.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mase.config import MaseError, load_group
from mase.models import cache, load_model, loading

_LOAD = textwrap.dedent("""
    import logging
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    from mase.report import progress
    progress.set_enabled(False)
    from mase.models import load_model
    model, tok = load_model("smollm2-135m")
    print("loaded", model.config.num_hidden_layers, len(tok("hello world")["input_ids"]))
""")


@pytest.fixture(scope="module")
def raced(tmp_path_factory):
    """Two processes load smollm2-135m at once on an empty MASE_CACHE: (cache folder, their outputs)."""
    root = tmp_path_factory.mktemp("race")
    env = {**os.environ, "MASE_CACHE": str(root / "cache"), "TOKENIZERS_PARALLELISM": "false"}
    procs = [subprocess.Popen([sys.executable, "-c", _LOAD], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [(p.communicate(timeout=600)[0], p.returncode) for p in procs]
    return root / "cache", outs


@pytest.fixture
def pristine(raced) -> Path:
    (folder,) = [p for p in (raced[0] / "models").iterdir() if p.is_dir()]
    return folder


@pytest.fixture
def linked_cache(pristine, tmp_path, monkeypatch) -> Path:
    """A private MASE_CACHE holding a hard-linked copy of the converted folder; returns that folder."""
    dest = tmp_path / "cache" / "models" / pristine.name
    shutil.copytree(pristine, dest, copy_function=os.link)
    monkeypatch.setenv("MASE_CACHE", str(tmp_path / "cache"))
    return dest


@pytest.fixture
def fake_convert(pristine, monkeypatch):
    """Reconversion without the 30 s of GGUF work: the pristine files, installed as _convert installs them."""
    calls = []

    def convert(m, gguf, dest):
        calls.append(dest)
        tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
        shutil.copytree(pristine, tmp, copy_function=os.link)
        cache.install(tmp, dest)

    monkeypatch.setattr(loading, "_convert", convert)
    return calls


def _damage(path: Path, how: str) -> None:
    """Write a new file (never in place: the others are hard links to the shared conversion)."""
    data = path.read_bytes()
    path.unlink()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:  # same size, garbage in the middle (JSON text / the safetensors header)
        mid = 8 if path.suffix == ".safetensors" else len(data) // 2
        path.write_bytes(data[:mid] + b"\x00" * 64 + data[mid + 64:])


@pytest.mark.slow
def test_two_first_runs_share_one_conversion(raced):
    """The second process waits on the lock (and says so), then loads the finished folder."""
    folder, outs = raced
    for out, rc in outs:
        assert rc == 0 and "loaded 30" in out, out[-3000:]
    logs = "".join(out for out, _ in outs)
    assert logs.count("converting SmolLM2") == 1 and logs.count("waiting for another mase process") == 1, logs
    models = folder / "models"
    assert sorted(p.suffix for p in models.iterdir()) == ["", ".lock"]  # no .tmp<PID> left
    (conv,) = [p for p in models.iterdir() if p.is_dir()]
    assert cache.size_problem(conv) is None and cache.hash_problem(conv) is None
    rec = json.loads((conv / cache.MANIFEST).read_text())["files"]
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(rec)


@pytest.mark.slow
@pytest.mark.parametrize("name, how, why", [
    ("tokenizer.json", "truncate", "tokenizer.json has"),
    ("model.safetensors", "truncate", "model.safetensors has"),
    ("model.safetensors", "overwrite", "model.safetensors differs from its sha256"),
    ("mase_source.json", "old", "has no file sizes (converted by an older mase)"),
])
def test_damaged_cache_is_converted_again(linked_cache, fake_convert, caplog, name, how, why):
    if how == "old":
        rec = json.loads((linked_cache / name).read_text())
        (linked_cache / name).unlink()
        (linked_cache / name).write_text(json.dumps({k: v for k, v in rec.items() if k != "files"}))
    else:
        _damage(linked_cache / name, how)
    with caplog.at_level(logging.WARNING, logger="mase.models"):
        model, tok = load_model("smollm2-135m")
    assert fake_convert == [linked_cache]
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "mase.models" and r.levelno == logging.WARNING]
    assert str(linked_cache) in warning and why in warning and "converting it again" in warning
    assert model.config.num_hidden_layers == 30 and tok("hello")["input_ids"]
    assert cache.size_problem(linked_cache) is None


@pytest.mark.slow
def test_damage_that_reconversion_cannot_fix_is_one_line(linked_cache, monkeypatch):
    monkeypatch.setattr(loading, "_convert", lambda m, gguf, dest: None)  # e.g. a disk that drops writes
    _damage(linked_cache / "tokenizer.json", "truncate")
    with pytest.raises(MaseError, match="still damaged after converting it again") as e:
        load_model("smollm2-135m")
    assert f"{linked_cache} " in str(e.value) and "delete that folder" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_leftovers_of_killed_conversions_are_removed(linked_cache, fake_convert):
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = linked_cache.with_name(f"{linked_cache.name}.tmp{dead.pid}")
    alive = linked_cache.with_name(f"{linked_cache.name}.tmp{os.getppid()}")  # a conversion still running
    for p in (gone, alive):
        p.mkdir()
        (p / "model.safetensors").write_bytes(b"partial")
    load_model("smollm2-135m")
    assert not gone.exists() and alive.is_dir() and fake_convert == []


def test_missing_local_folder_says_no_such_folder_once(cli, tmp_path):
    res = cli(["+model=hf", "model.hf_id=/missing/path", "stages=[quantize,evaluate,report]", "progress=false"],
              env={"MASE_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 2, res.stderr
    out = res.stdout + res.stderr
    assert "Traceback" not in out and "unreachable" not in out and "cannot be reached" not in out
    (line,) = [ln for ln in res.stderr.splitlines() if "no such folder" in ln]
    assert line.startswith("mase: error: model.hf_id=/missing/path: no such folder")
    assert out.count("no such folder") == 1, out
    assert not (tmp_path / "outputs").exists()  # refused before any work: no run folder


def test_error_inside_a_run_is_printed_once_and_logged(cli, tmp_path):
    """An empty local folder fails while loading (inside the run): once on the console, kept in mase.log."""
    (tmp_path / "empty").mkdir()
    res = cli(["+model=hf", f"model.hf_id={tmp_path / 'empty'}", "stages=[quantize,evaluate,report]",
               "progress=false"], env={"MASE_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 2, res.stderr
    out = res.stdout + res.stderr
    assert "Traceback" not in out and out.count("cannot read the model in") == 1, out
    (log_file,) = tmp_path.glob("outputs/**/mase.log")
    assert "cannot read the model in" in log_file.read_text()  # the run's log keeps it


def test_unreadable_local_folder_is_one_line(tmp_path):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    model, _ = load_model("tiny-llama")
    folder = tmp_path / "ckpt"
    model.save_pretrained(folder)
    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"a": 0}, unk_token="a"))).save_pretrained(
        folder)
    for name in ("tokenizer.json", "model.safetensors"):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(MaseError, match=f"cannot read the model in {folder} ") as e:
            load_model(load_group("model", "hf", hf_id=str(folder)))
        assert "\n" not in str(e.value)
        (folder / name).write_bytes(data)
    with pytest.raises(MaseError, match="model.hf_id=.*: not a folder"):
        load_model(load_group("model", "hf", hf_id=str(folder / "config.json")))


def test_download_hint_names_the_installed_cli():
    """huggingface_hub >= 0.34 ships `hf` (and 1.x no longer `huggingface-cli`)."""
    from importlib.metadata import entry_points

    scripts = {e.name for e in entry_points(group="console_scripts") if e.value.startswith("huggingface_hub")}
    assert loading._hf_cli() == ("hf" if "hf" in scripts else "huggingface-cli")
