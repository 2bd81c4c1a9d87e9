"""Writing result files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def write_atomic(path: Path | str, text: str) -> None:
    """Write a file so that it is either absent, the old one, or complete (stamps, results)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if needed): one process at a time builds a shared
    cache entry (parallel test workers, sweeps), the others wait and then reuse it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
