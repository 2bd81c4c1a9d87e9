"""Feedback on long EDA steps (issue 15, item 5): a live status while a tool runs (a rich status on a
terminal, plain lines otherwise) and the raw log's path when it ends; the log is written live."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from mase.eda.runner import EdaError, run_tool
from mase.report import progress

SCRIPT = "echo first; sleep 0.6; echo second >&2"


@pytest.fixture
def fast_marks(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_MARKS", (0.2, 0.4))


def test_plain_lines_and_log_path(tmp_path, caplog, fast_marks, monkeypatch):
    monkeypatch.setitem(progress._state, "enabled", True)  # not a terminal: plain lines all the same
    log = tmp_path / "tool.log"
    with caplog.at_level(logging.INFO, logger="mase"):
        rc, out = run_tool(["sh", "-c", SCRIPT], what="demo tool", log=log)
    assert rc == 0 and out == log.read_text() == "first\nsecond\n"
    lines = [r.getMessage() for r in caplog.records]
    assert f"demo tool: running 0 s (log: {log})" in lines, lines
    assert any(l.startswith("demo tool done in 0.") and l.endswith(f"s: log {log}") for l in lines), lines


def test_rich_status_on_a_terminal(tmp_path, fast_marks, monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=buf, force_terminal=True, width=200))
    monkeypatch.setitem(progress._state, "enabled", True)
    log = tmp_path / "tool.log"
    run_tool(["sh", "-c", SCRIPT], what="demo tool", log=log)
    assert "demo tool: running" in buf.getvalue() and str(log) in buf.getvalue()


def test_failed_step_names_its_log(tmp_path, caplog):
    log = tmp_path / "t.log"
    with caplog.at_level(logging.INFO, logger="mase"), pytest.raises(EdaError, match="timed out"):
        run_tool(["sleep", "5"], what="slow tool", timeout=0.3, log=log)
    assert any(r.getMessage().startswith("slow tool stopped in") and str(log) in r.getMessage() for r in caplog.records)
