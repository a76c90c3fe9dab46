# `make test` and `make build SPEC=...` install what they need on first use (scripts/install.sh).
SPEC ?= specs/attentive16.hvae
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: install test test-all build

$(INSTALLED): pyproject.toml scripts/install.sh
	./scripts/install.sh

install: $(INSTALLED)

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest -q -m "not slow"

test-all: $(INSTALLED)
	$(VENV)/bin/python -m pytest -q

build: $(INSTALLED)
	$(VENV)/bin/zoo build $(SPEC)
