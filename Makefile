# Quick start: `make demo` trains a character model and prints generated text; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-all

.PHONY: demo test bench profile install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m rnnlab.demo

bench: $(STAMP)
	$(PY) benchmarks/run.py --write docs/benchmarks.md --baseline numba_loops
	$(PY) benchmarks/run.py --write docs/benchmarks-one-thread.md --baseline numba_loops --threads 1

profile: $(STAMP)
	$(PY) benchmarks/profile_step.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache

.PHONY: sweep compare
sweep: $(STAMP)        # long: the defaults sweep (rounds 1 and 3), one run at a time; rewrites docs/recipes.md
	$(PY) benchmarks/sweep.py
	$(PY) benchmarks/sweep.py --round 3

compare: $(STAMP)      # long: rnnlab's defaults vs a PyTorch reference at the same budget
	$(PY) benchmarks/compare.py --write README.md
