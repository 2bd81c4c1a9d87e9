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
_LIVE = threading.Lock()  # held by the one live rich display (a tool status, a progress bar) of the process
console = Console(stderr=True)


def set_enabled(flag: bool) -> None:
    _state["enabled"] = bool(flag)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar. Each step is a point where a stopping run (mase.cancel: another
    stage failed) stops this one. Rich shows one live display at a time: beside another (a tool status,
    a second stage's bar) the progress is logged plainly."""
    from mase import cancel

    if not _state["enabled"]:
        for item in items:
            cancel.check(description)
            yield item
        return
    if not _LIVE.acquire(blocking=False):
        yield from _plain(items, description, total)
        return
    try:
        with _progress() as p:
            for item in p.track(items, total=total, description=description):
                cancel.check(description)
                yield item
    finally:
        _LIVE.release()


def _plain(items: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    """track() without a live display: a log line at PLAIN_MARKS seconds, then every minute, and at the end."""
    from mase import cancel

    t0, marks, done = time.monotonic(), list(PLAIN_MARKS), 0
    due = marks.pop(0)
    of = f"/{total}" if total is not None else ""
    for item in items:
        cancel.check(description)
        yield item
        done += 1
        dt = time.monotonic() - t0
        if dt >= due:
            log.info("%s: %d%s, %d s", description, done, of, dt)
            while due <= dt:
                due = marks.pop(0) if marks else (int(dt) // 60 + 1) * 60
    log.info("%s: %d%s done in %.1f s", description, done, of, time.monotonic() - t0)


@contextmanager
def steps(description: str, total: int):
    """A bar advanced by hand: `with steps("loading", 3) as advance: ...; advance()` (plainly, without
    a bar, beside another live display)."""
    from mase import cancel

    def check(*a, **k) -> None:
        cancel.check(description)

    if not _state["enabled"] or not _LIVE.acquire(blocking=False):
        yield check
        return
    try:
        with _progress() as p:
            task = p.add_task(description, total=total)

            def advance(label: str | None = None) -> None:
                cancel.check(description)
                p.update(task, advance=1, description=f"{description}: {label}" if label else description)

            yield advance
    finally:
        _LIVE.release()


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
