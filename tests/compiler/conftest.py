"""Fixtures of the compiler tests: tiny random-init models (fresh per test), quiet progress bars."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MASE_EAGER", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from mase.report import progress  # noqa: E402

progress.set_enabled(False)


@pytest.fixture
def tiny_llama():
    from mase.models import load_model

    return load_model("tiny-llama")[0]


@pytest.fixture
def tiny_opt():
    from mase.models import load_model

    return load_model("tiny-opt")[0]
