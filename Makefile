# crelu-repro: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: help install test test-slow lint train tensorboard table-params clean

help:  ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev extra

test: $(STAMP)  ## run the default (fast) test suite
	$(PY) -m pytest -q

test-slow: $(STAMP)  ## run the slow tests on real data (../shared/data or CRELU_DATA)
	$(PY) -m pytest -q -m slow -s

lint: $(STAMP)  ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

train: $(STAMP)  ## train the default model (crelu) on CIFAR-10 under CRELU_DATA; ARGS="..." adds overrides
	$(PY) train.py $(ARGS)

tensorboard: $(STAMP)  ## serve the dashboards of every run under outputs/ on localhost:6006
	$(VENV)/bin/tensorboard --logdir outputs --host 127.0.0.1 --port 6006

table-params: $(STAMP)  ## results/table_params.md (+ .json): parameter counts, paper vs ours
	$(PY) -m crelu_repro.params --write results

clean:  ## remove caches (keeps .venv, outputs/ and results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
