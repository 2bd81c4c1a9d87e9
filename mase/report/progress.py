"""Rich progress bars and tool status lines shared by the stages (off with progress=false, e.g. in tests and logs)."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")
_state = {"enabled": True}
_LIVE = threading.Lock()  # held by the one tool_status showing a live rich status
console = Console(stderr=True)


def set_enabled(flag: bool) -> None:
    _state["enabled"] = bool(flag)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    if not _state["enabled"]:
        yield from items
        return
    with _progress() as p:
        yield from p.track(items, total=total, description=description)


@contextmanager
def steps(description: str, total: int):
    """A bar advanced by hand: `with steps("loading", 3) as advance: ...; advance()`."""
    if not _state["enabled"]:
        yield lambda *a, **k: None
        return
    with _progress() as p:
        task = p.add_task(description, total=total)

        def advance(label: str | None = None) -> None:
            p.update(task, advance=1, description=f"{description}: {label}" if label else description)

        yield advance


# ------------------------------------------------------------------------------------------------
# Live status of a running tool (EDA steps take seconds to many minutes with no output of their own)
# ------------------------------------------------------------------------------------------------
PLAIN_MARKS = (5, 30, 60)  # seconds at which a plain (not a terminal) status line is printed, then every 60 s
log = logging.getLogger("mase")


def _status_text(what: str, seconds: float, log_path) -> str:
    where = f" (log: {log_path})" if log_path else ""
    return f"{escape(what)}: running {seconds:.0f} s{escape(where)}"


@contextmanager
def tool_status(what: str, log_path=None):
    """While the body runs: a live rich status (elapsed time, the tool, its log) on a terminal with
    progress on, else a plain log line after 5, 30 and 60 s and every minute after. When a tool with a
    log ends, one line with the time taken and the raw log's path."""
    t0 = time.monotonic()
    stop = threading.Event()
    # rich shows one live display at a time: a tool running beside another (two simulations) logs plainly
    live = _state["enabled"] and console.is_terminal and _LIVE.acquire(blocking=False)
    status = console.status(_status_text(what, 0, log_path)) if live else None

    def tick() -> None:
        if status is not None:
            while not stop.wait(1.0):
                status.update(_status_text(what, time.monotonic() - t0, log_path))
            return
        marks = list(PLAIN_MARKS)
        while True:
            due = marks.pop(0) if marks else (int(time.monotonic() - t0) // 60 + 1) * 60
            if stop.wait(max(0.0, due - (time.monotonic() - t0))):
                return
            log.info("%s: running %d s%s", what, due, f" (log: {log_path})" if log_path else "")

    if status is not None:
        status.start()
    thread = threading.Thread(target=tick, name="tool-status", daemon=True)
    thread.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        thread.join()
        if status is not None:
            status.stop()
            _LIVE.release()
        dt = time.monotonic() - t0
        if log_path is not None:
            log.info("%s %s in %.1f s: log %s", what, "done" if ok else "stopped", dt, log_path)
