# decentlab: `make test` runs the test suite, `make report` runs the claims and the figures.
# Each sets up .venv on first use (CPU build of torch from the local wheel cache / PyPI).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: venv test test-all report figs bench clean

$(VENV)/.done: pyproject.toml
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "torch==2.13.0"
	$(VPY) -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.done

test: venv
	$(VPY) -m pytest -q -n 2

test-all: venv
	$(VPY) -m pytest -q -n 2 -m ""

report: venv
	$(VPY) -m verify --quick --out runs/latest-quick
	$(VPY) -m paper_figs all --quick --out runs/latest-quick/figs

bench: venv
	$(VPY) benchmarks/simulator.py

clean:
	rm -rf $(VENV) runs figs .hypothesis
