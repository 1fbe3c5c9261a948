# decentlab: `make test` runs the test suite, `make report` runs the claims and draws the figures
# from what they saved.
# Each sets up .venv on first use (CPU build of torch from the local wheel cache / PyPI).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: venv test test-all report scorecard figs report-screenshot bench bench-peers clean

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

# claims -> claims.json (with each claim's data) -> figures drawn from it -> report with figures
report: venv
	$(VPY) -m verify --quick --out runs/latest-quick
	$(VPY) -m verify scorecard --quick --out runs/latest-quick/scorecard
	$(VPY) -m paper_figs all --from runs/latest-quick

# every registered algorithm (and plug-ins: PLUGIN=mypkg.mymod) through the property checks
SC_OUT ?= runs/scorecard
scorecard: venv
	$(VPY) -m verify scorecard --quick $(if $(PLUGIN),--plugin $(PLUGIN)) --out $(SC_OUT)
	$(VPY) -m paper_figs.scorecard $(SC_OUT)

# the figures of an existing run folder again (RUN=...), report re-written
RUN ?= runs/latest-quick
figs: venv
	$(VPY) -m paper_figs all --from $(RUN)

# report.html as a person sees it: headless Chromium at 1400 px; fails on a broken <img> or a
# page wider than 1400 px; the screenshot goes to docs/screenshot/report-1400.png
report-screenshot: venv
	$(VPY) -m verify.htmlcheck $(RUN)/report.html --width 1400 --screenshot docs/screenshot/report-1400.png

bench: venv
	$(VPY) benchmarks/simulator.py

# the simulator against numpy, JAX and numba, and the exact chains (peers in the `bench` extra)
bench-peers: venv
	$(VPY) -m pip install -q -e ".[bench]"
	$(VPY) benchmarks/peers.py --write
	$(VPY) benchmarks/chain.py --write

clean:
	rm -rf $(VENV) runs figs .hypothesis
