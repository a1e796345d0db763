# synthgen — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lint test bench demo report-screenshot clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,tokens,semantic]'
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check synthgen tests bench
	$(VENV)/bin/ruff format --check synthgen tests bench
	$(VENV)/bin/mypy --strict synthgen

test: lint
	$(PY) -m pytest -q

bench: install
	$(PY) bench/run.py $(SECTIONS)

demo: install
	PY=$(PY) bash scripts/demo.sh

# The HTML report rendered by headless Chromium without network (apt-get install chromium).
report-screenshot: install
	PYTHONPATH=tests $(PY) tests/e2e/test_report_html.py out/report.png

clean:
	rm -rf $(VENV) .synthgen out .mypy_cache .ruff_cache .pytest_cache
