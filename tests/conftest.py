"""Parallel test workers (pytest-xdist, `make test` runs two): each gets an equal share of the cores
for torch's threads, set before torch is imported here or in the CLI subprocesses the tests start."""

import os

_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))
