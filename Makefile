# decentlab: `make test` runs the test suite, `make report` runs the claims and draws the figures
# from what they saved.
# Each sets up .venv on first use (CPU build of torch from the local wheel cache / PyPI).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: venv test test-all report figs report-screenshot bench clean

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
	$(VPY) -m paper_figs all --from runs/latest-quick

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

clean:
	rm -rf $(VENV) runs figs .hypothesis
