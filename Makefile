# Every target sets itself up: on a fresh machine with only python3 it creates
# .venv, installs labkit with its test extras, then acts.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test jupyter bench browser mongosh clean

lab: $(STAMP)
	$(BIN)/labkit run partial-recovery

# Two workers, one test file each at a time: the tests wait on servers more than they compute.
test: $(STAMP) browser mongosh
	$(BIN)/python -m pytest -n 2 --dist loadfile

jupyter: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Debian's Chromium for the browser test; skipped (and the test says why) when apt is not usable.
browser:
	@bash scripts/ensure-chromium.sh

# The real mongosh (npm) for the test of `labkit shell`; skipped (and the test says why) without npm.
mongosh: $(STAMP)
	@bash scripts/ensure-mongosh.sh $(VENV)/mongosh

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .labkit build *.egg-info
