"""Automatic mixed-precision search: per-layer MX formats found by a Hydra sweeper (issue 11).

    mase -m +model=smollm2-135m search=mixed4          # Optuna TPE, <= 4.5 average weight bits
    mase -m +model=smollm2-135m search=pareto4         # NSGA-II: perplexity vs average weight bits
    python -m mase.search report <sweep dir>           # table, CSV, plot, conf/quant/best.yaml again
    mase --config-dir <sweep dir>/conf +model=smollm2-135m quant=best

| module | role |
|---|---|
| `space.py` | slots (layers sharing a format) at a granularity, choices, picks -> quant.overrides, bits |
| `naming.py` | trial folders named after their choices |
| `trial.py` | inside the task: picks applied, budget penalty, objectives (report + analytical hardware) |
| `sampling.py` | the sweeper's custom search space: one categorical per slot, seeded by sensitivity |
| `sensitivity.py` | KL cost of lowering one slot at a time: pruning and greedy seeds |
| `report.py` | after the sweep: Pareto table, CSV, PNG, best.yaml (a Hydra callback and a command) |
"""
