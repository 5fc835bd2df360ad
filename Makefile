# The two commands the README starts with: `make demo` and `make test`. Each does its own setup and is safe to repeat.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: setup demo demo-preview demo-refresh demo-cancel demo-down test test-unit test-ssh test-e2e bench rules-table clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	bash tools/install-system-packages.sh
	$(PY) -m sealos_provider.devkit engine

## Run the stack against three local node containers (Docker engine, node image, Pulumi CLI built on first use).
demo: setup
	$(PY) -m sealos_provider.devkit.demo up

## preview / refresh of the demo stack as it stands (after `make demo`).
demo-preview: setup
	$(PY) -m sealos_provider.devkit.demo preview

demo-refresh: setup
	$(PY) -m sealos_provider.devkit.demo refresh

## Unlock the demo stack after an update was killed (pulumi cancel).
demo-cancel: setup
	$(PY) -m sealos_provider.devkit.demo cancel

## Destroy the demo stack and remove its node containers.
demo-down: setup
	$(PY) -m sealos_provider.devkit.demo down

## Every test: unit, SSH against real sshd, end to end through the real Pulumi engine on node containers.
test: setup
	$(PY) -m pytest -ra tests

test-unit: setup
	$(PY) -m pytest -ra tests/unit

test-ssh: setup
	$(PY) -m pytest -ra tests/ssh

test-e2e: setup
	$(PY) -m pytest -ra tests/e2e

bench: setup
	$(PY) benchmarks/ssh_push.py

rules-table: $(VENV)/.installed
	@$(PY) -c 'from sealos_provider.resources.rules import markdown_table; print(markdown_table(), end="")'
