"""python -m mase.report DIR...: one accuracy table over every report.json under the folders; for a
folder that is a sweep (multirun.yaml) or whose runs have hardware sections, also the sweep summary
(mase.report.sweep), written again to DIR/sweep.json, sweep.csv, sweep.png and sweep.svg."""

from __future__ import annotations

import sys

from .report import collect_reports
from .tables import make_console, report_table


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m mase.report DIR... (e.g. multirun/2026-01-01_12-00-00)", file=sys.stderr)
        return 2
    reports = [r for d in args for r in collect_reports(d)]
    if not reports:
        print(f"mase: error: no report.json under {' '.join(args)}", file=sys.stderr)
        return 2
    con = make_console()
    con.print(report_table(reports, "accuracy"))
    from pathlib import Path

    from .sweep import summarize

    for d in args:  # a sweep (Hydra's multirun.yaml) or runs with hardware: the summary, CSV and plots again
        if (Path(d) / "multirun.yaml").is_file() or any(r.get("hardware") for r in collect_reports(d)):
            summarize(d)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
