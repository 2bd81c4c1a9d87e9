"""Writing result files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path | str, text: str) -> None:
    """Write a file so that it is either absent, the old one, or complete (stamps, results)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
