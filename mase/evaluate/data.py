"""Real English text for perplexity; never generated.

- wikitext2: WikiText-2 (raw) test split through `datasets`, when it is installed and the hub answers.
- lee: gensim's test data `lee_background.cor`, 300 Australian news articles (one per line).
  (`lee.cor`, 50 more articles of the same source, is calibration text only: lee_test_text.)
- enwiki: gensim's shortened English Wikipedia dump (articles namespace, redirects skipped), with the
  markup stripped by gensim's own `filter_wiki` plus headings and bold/italic quotes.
- polarity (a task, not a text: mase.evaluate.task): `pang_lee_polarity.cor`, labelled sentences.
- auto: wikitext2 if it can be loaded, else lee (the report records which one was used).
"""

from __future__ import annotations

import bz2
import importlib.util
import logging
import re
from functools import lru_cache
from pathlib import Path

from mase.errors import MaseError

log = logging.getLogger("mase.evaluate")
ENWIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def gensim_test_data() -> Path:
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        raise MaseError("offline evaluation text comes from gensim's test data: pip install gensim")
    path = Path(spec.origin).parent / "test" / "test_data"
    if not path.is_dir():
        raise MaseError(f"gensim is installed without its test data ({path}); reinstall gensim from PyPI")
    return path


def lee_text() -> str:
    lines = (gensim_test_data() / "lee_background.cor").read_text(encoding="utf-8").splitlines()
    return "\n\n".join(line.strip() for line in lines if line.strip())


def lee_test_text() -> str:
    """gensim's `lee.cor`: 50 news articles of the same source as lee_background.cor and none of its 300
    (the calibration text of quant.weight_rounding=gptq: disjoint from the evaluated text)."""
    lines = (gensim_test_data() / "lee.cor").read_text(encoding="latin-1").splitlines()  # one pound sign in latin-1
    return "\n\n".join(line.strip() for line in lines if line.strip())


def polarity_examples() -> list[tuple[str, str]]:
    """gensim's `pang_lee_polarity.cor`: (sentence, label) x 200, labels `pos` / `neg` (100 each), from
    Pang and Lee's sentence polarity data (the source of SST-2); lower-cased and tokenized as published."""
    out = []
    for line in (gensim_test_data() / "pang_lee_polarity.cor").read_text(encoding="cp1252").splitlines():
        label, _, text = line.strip().partition(" ")
        if label.startswith("__label__") and text.strip():
            out.append((text.strip(), label[len("__label__"):]))
    return out


def enwiki_text(max_chars: int = 2_000_000) -> str:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    out, total = [], 0
    with bz2.open(gensim_test_data() / ENWIKI_FILE) as f:
        for _title, text, _pid in extract_pages(f, filter_namespaces=("0",)):
            if text.lstrip().upper().startswith("#REDIRECT"):
                continue
            clean = filter_wiki(text)
            clean = re.sub(r"'{2,}", "", clean)  # bold / italic quotes
            clean = re.sub(r"^=+\s*(.*?)\s*=+\s*$", r"\1", clean, flags=re.M)  # == Heading ==
            clean = re.sub(r"[ \t]+", " ", clean)
            clean = re.sub(r"\n\s*\n\s*(\n\s*)+", "\n\n", clean).strip()
            if clean:
                out.append(clean)
                total += len(clean)
                if total >= max_chars:
                    break
    return "\n\n".join(out)


def wikitext2_text() -> str:
    if importlib.util.find_spec("datasets") is None:
        raise MaseError("eval.dataset=wikitext2 needs the `datasets` package (pip install datasets) and the "
                        "Hugging Face hub; offline, use eval.dataset=lee or enwiki")
    from mase.models.loading import _hub_unreachable

    if (why := _hub_unreachable()) is not None:  # fail in seconds instead of a minute of retries
        raise MaseError(f"WikiText-2 needs the Hugging Face hub, which cannot be reached ({why}); offline, use "
                        f"eval.dataset=lee or enwiki")
    try:
        import datasets

        ds = datasets.load_dataset("wikitext", "wikitext-2-raw-v1", split="test")
    except Exception as exc:
        raise MaseError(f"WikiText-2 could not be loaded ({type(exc).__name__}); offline, use eval.dataset=lee "
                        f"or enwiki") from None
    return "".join(ds["text"])


@lru_cache(maxsize=4)
def load_text(dataset: str, max_chars: int = 2_000_000) -> tuple[str, str]:
    """(text, name of the dataset actually used)."""
    if dataset == "auto":
        if importlib.util.find_spec("datasets") is not None:
            try:
                return wikitext2_text(), "wikitext2"
            except MaseError as exc:
                log.warning("WikiText-2 unavailable, using gensim lee_background.cor: %s", exc)
        return lee_text(), "lee"
    if dataset == "lee":
        return lee_text(), "lee"
    if dataset == "enwiki":
        return enwiki_text(max_chars), "enwiki"
    if dataset == "wikitext2":
        return wikitext2_text(), "wikitext2"
    raise MaseError(f"eval.dataset={dataset!r}: choose one of auto, wikitext2, lee, enwiki")
