"""Stopping the other stages of a run when one fails or the run is interrupted.

mase.pipeline runs independent stages side by side in threads. When one of them fails (or Ctrl-C
reaches the main thread), `cancel()` ends every running tool's process group (the tools start
through mase.eda.runner.run_tool, which registers them here) and makes a tool about to start, and a
loop passing through mase.report.progress.track / steps, raise `Cancelled` in its thread, so
that the other stages stop without writing a result. `reset()` clears it (mase.pipeline.run does,
before and after its stages). Process-wide: one pipeline run at a time in a process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

_event = threading.Event()
_lock = threading.Lock()
_procs: set[Any] = set()  # running tool processes (subprocess.Popen, each the leader of its own group)


class Cancelled(Exception):
    """This stage was stopped because another stage of the run failed or the run was interrupted."""


def cancelled() -> bool:
    return _event.is_set()


def check(what: str = "") -> None:
    """Raise Cancelled when the run is being stopped (a point where a stage may stop cleanly)."""
    if _event.is_set():
        raise Cancelled(f"{what} stopped: the run is stopping" if what else "stopped: the run is stopping")


def register(proc: Any) -> None:
    """A tool process started (its own process group). Ended at once if the run is already stopping."""
    with _lock:
        _procs.add(proc)
    if _event.is_set():  # cancel() may have listed the processes just before this one registered
        _end_groups([proc])


def unregister(proc: Any) -> None:
    with _lock:
        _procs.discard(proc)


def cancel() -> None:
    """Stop the run: later checks raise Cancelled, and every running tool's process group is ended
    (SIGTERM, SIGKILL after 5 s)."""
    _event.set()
    with _lock:
        procs = list(_procs)
    _end_groups(procs)


def reset() -> None:
    _event.clear()


def _end_groups(procs: list[Any], grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in procs if p.returncode is None]
        for p in alive:
            try:
                os.killpg(p.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        end = time.monotonic() + grace
        while alive and time.monotonic() < end:
            time.sleep(0.05)
            # the thread that started a tool waits for it (and sets returncode); a group that is
            # gone cannot be signalled any more
            alive = [p for p in alive if p.returncode is None and _group_alive(p.pid)]
        if not alive:
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
