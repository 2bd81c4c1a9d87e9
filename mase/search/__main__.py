"""python -m mase.search report <sweep dir>: the search's table, CSV, plot and conf/quant/best.yaml again."""

from __future__ import annotations

import sys

from mase.errors import MaseError


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] != "report":
        print("usage: python -m mase.search report <sweep dir>", file=sys.stderr)
        return 2
    from pathlib import Path

    from .report import summarize

    if not Path(argv[1]).is_dir():
        print(f"mase: error: {argv[1]}: no such folder", file=sys.stderr)
        return 2
    try:
        summarize(argv[1])
    except MaseError as exc:
        print(f"mase: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
