"""The converted-model cache ($MASE_CACHE/models/<name>-<key>/): safe for concurrent runs, checked on load.

Readers hold a shared flock on `<folder>.lock` while they check and load a folder; a conversion holds it
exclusively, writes `<folder>.tmp<PID>` and renames it into place, so no process ever sees a half-written
folder or loses one it is reading. `mase_source.json` records every file's size (checked on each load,
cheap) and sha256 (checked only when a load fails), so a damaged cache is named and converted again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mase.errors import MaseError

log = logging.getLogger("mase.models")
MANIFEST = "mase_source.json"
_LEFTOVER = re.compile(r"\.(?:tmp|old)(\d+)$")


@contextmanager
def locked(folder: Path, exclusive: bool) -> Iterator[None]:
    """Hold `<folder>.lock` (shared: reading; exclusive: writing); say so when another process makes us wait."""
    lock = folder.with_name(folder.name + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if not exclusive:  # a read-only cache can still be read; nobody can replace it under us
            yield
            return
        raise MaseError(f"cannot write the model cache {lock.parent} ({exc.strerror or exc}); "
                        f"set MASE_CACHE to a writable folder") from None
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another mase process converting or loading %s (lock %s)", folder.name, lock)
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: Path, info: dict) -> None:
    """Record size and sha256 of every file in `folder` (plus `info`) in its mase_source.json."""
    files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(folder.iterdir()) if p.is_file()}
    (folder / MANIFEST).write_text(json.dumps({**info, "files": files}, indent=1) + "\n")


def _recorded(folder: Path) -> dict | str:
    """The manifest's file records, or what is wrong with the manifest."""
    try:
        files = json.loads((folder / MANIFEST).read_text())["files"]
        if isinstance(files, dict) and all({"size", "sha256"} <= set(r) for r in files.values()):
            return files
    except FileNotFoundError:
        return f"{MANIFEST} is missing (conversion did not finish)"
    except KeyError:
        return f"{MANIFEST} has no file sizes (converted by an older mase)"
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    return f"{MANIFEST} is unreadable"


def size_problem(folder: Path) -> str | None:
    """What is wrong with a cached folder by its recorded file sizes; None if it looks complete."""
    if not folder.is_dir():
        return "not converted yet"
    files = _recorded(folder)
    if isinstance(files, str):
        return files
    for name, rec in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if (size := path.stat().st_size) != rec["size"]:
            return f"{name} has {size} bytes instead of {rec['size']}"
    return None


def hash_problem(folder: Path) -> str | None:
    """Which file differs from its sha256 at conversion (sizes checked first); None if all match."""
    if (problem := size_problem(folder)) is not None:
        return problem
    for name, rec in _recorded(folder).items():
        if _sha256(folder / name) != rec["sha256"]:
            return f"{name} differs from its sha256 at conversion"
    return None


def install(tmp: Path, dest: Path) -> None:
    """Rename a finished `tmp` folder to `dest` (the caller holds the exclusive lock, so no one reads `dest`)."""
    old = dest.with_name(f"{dest.name}.old{os.getpid()}")
    if dest.exists():  # a directory rename cannot replace a non-empty one: move the damaged one aside first
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def leftovers(dest: Path) -> list[Path]:
    """`<dest>.tmp<PID>` / `.old<PID>` folders whose process is gone (a conversion killed part way)."""
    if not dest.parent.is_dir():
        return []
    found = []
    for p in dest.parent.iterdir():
        if p.name.startswith(dest.name + ".") and (m := _LEFTOVER.search(p.name)) and not _alive(int(m.group(1))):
            found.append(p)
    return found


def remove_leftovers(dest: Path) -> None:
    for p in leftovers(dest):
        log.info("removing %s, left by a conversion that did not finish", p)
        shutil.rmtree(p, ignore_errors=True)
