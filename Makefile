# Two commands do all the set-up on a fresh machine (see README):
#   make run    install, then run mase on the embedded default model
#   make test   install, then run the test suite (what .ci/run calls)
VENV ?= .venv
ARGS ?= +model=smollm2-135m quant=mxint4
# two pytest-xdist workers: one core each while the other waits on a tool; `make test PYTEST_WORKERS=0` runs serially
PYTEST_WORKERS ?= 2

.PHONY: install run test bench
install:
	@bash scripts/setup.sh

run: install
	$(VENV)/bin/mase $(ARGS)

test: install
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python benchmarks/bench_formats.py
