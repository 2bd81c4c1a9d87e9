"""Rich progress bars shared by the stages (off with progress=false, e.g. in tests and logs)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")
_state = {"enabled": True}
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
