"""Many generated configurations (issue 10): each whole and bit-exact in Verilator, or refused with
one line before any work. Prints one row per configuration and a summary (counts by outcome, the
refusal reasons), and writes the rows to a JSON file.

    python benchmarks/bench_generated_configs.py --first 0 --count 100 --out gen.json
    python benchmarks/bench_generated_configs.py --decode --count 20   # the KV-cache decode design
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "compiler"))
os.environ.setdefault("MASE_EAGER", "1")

from genconfigs import generate, try_config  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=0, help="first seed")
    ap.add_argument("--count", type=int, default=60, help="number of configurations")
    ap.add_argument("--out", default="bench_generated_configs.json", help="JSON rows")
    ap.add_argument("--decode", action="store_true",
                    help="check the decode design (generate stage: hw.generate_tokens greedy tokens) instead of the prefill one")
    args = ap.parse_args()
    import logging

    from mase.report import progress

    progress.set_enabled(False)
    logging.getLogger("mase").setLevel(logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mase-gen-") as tmp:
        for seed in range(args.first, args.first + args.count):
            c = generate(seed)
            o = try_config(c, Path(tmp) / str(seed), decode=args.decode)
            rows.append({"seed": seed, "overrides": c.overrides, "result": o.result, "stage": o.stage,
                         "detail": o.detail, "seconds": round(o.seconds, 1)})
            print(f"{seed:5d} {o.result:9s} {o.stage:9s} {o.seconds:6.1f}s  {' '.join(c.overrides[1:])}"
                  + (f"\n      {o.detail.splitlines()[0][:200] if o.detail else ''}" if o.result != "bit-exact" else ""),
                  flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    counts = collections.Counter(r["result"] for r in rows)
    print(f"\n{len(rows)} configurations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    reasons = collections.Counter(re.sub(r"[0-9.]+", "N", r["detail"])[:100] for r in rows if r["result"] == "refused")
    for why, n in reasons.most_common():
        print(f"  refused {n}x: {why}")
    return 1 if counts.get("failed") else 0


if __name__ == "__main__":
    raise SystemExit(main())
