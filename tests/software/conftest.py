"""Shared fixtures: tiny random-init models, quiet progress bars, a helper to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mase.report import progress

progress.set_enabled(False)


@pytest.fixture(autouse=True)
def _eager_formats(monkeypatch):
    """Tiny tensors: skip mase.formats' torch.compile warm-up here (only in these tests, not globally)."""
    monkeypatch.setenv("MASE_EAGER", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def tiny_llama():
    from mase.models import load_model

    return load_model("tiny-llama")


@pytest.fixture
def tiny_opt():
    from mase.models import load_model

    return load_model("tiny-opt")


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MASE_EAGER": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mase.cli", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def cli(tmp_path):
    return lambda args, **kw: run_cli(args, tmp_path, **kw)
