# Eung-Dap-So (응답소). `make run` starts the whole system; `make test` runs every test.
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export XDG_RUNTIME_DIR ?= /tmp

# install-browser: Debian's Chromium and a Korean font for the browser tests (tests/e2e/browser), where missing.
.PHONY: install install-browser run test test-unit bench eval-routing schemas check-schemas lint clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --quiet

install-browser:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && \
	  { ! command -v fc-list >/dev/null 2>&1 || [ -n "$$(fc-list :lang=ko 2>/dev/null)" ]; } || \
	  { echo "installing Debian's chromium and fonts-nanum (Korean) for the browser tests"; \
	    apt-get install -y -q chromium fonts-nanum >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-nanum >/dev/null; } || \
	    echo "could not install chromium (not root?): the browser tests will say so"; }

run: install  ## the whole system behind http://127.0.0.1:$${PORT:-8000}
	$(UV) run --frozen python -m eungdapso_devstack

test: install install-browser lint  ## lint and types, then unit, contract, integration and end-to-end tests
	$(UV) run --frozen pytest -q -ra

test-unit: install
	$(UV) run --frozen pytest -q -m "not integration and not e2e"

bench: install  ## throughput and latency against raw baselines; writes bench/results/latest.json
	$(UV) run --frozen python bench/run.py

eval-routing: install  ## the router's top-1 accuracy on its held-out Korean evaluation set
	$(UV) run --frozen python -m eungdapso_router.evaluate

schemas: install  ## regenerate JSON Schemas and the AsyncAPI document from the models
	$(UV) run --frozen python -m eungdapso_schemas.export

check-schemas: install
	$(UV) run --frozen python -m eungdapso_schemas.export --check

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy schemas/src libs/platform/src services/*/src devstack/src

clean:
	rm -rf .run .venv .tools
