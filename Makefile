# crelu-repro: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: help install test test-slow lint train tensorboard benchmark tables table-convpool table-vgg table-imagenet \
	table-regularization table-placement table-params figures claims gpu-session gpu-session-rehearsal clean

# QUICK=1 shrinks every table's sweep to a CPU smoke run (data subset, 1 epoch, 2 models per row) written
# to multirun/quick/ and results/quick/: same columns, numbers not comparable with the paper's.
QUICK ?=
QUICK_DATA := dataset.limit_train=500 dataset.limit_test=500 trainer.epochs=1 trainer.batch_size=50
SWEEPS := $(if $(QUICK),multirun/quick,multirun)
TABLES_OUT := $(if $(QUICK),results/quick,results)

# QUICK: 2 models per row (each experiment's sweep reads eval.models); ImageNet also at a smaller size.
QUICK_MODELS := eval.models=2
QUICK_imagenet := dataset.image_size=112 dataset.resize=128

# $(1) table. The table is rendered even when some runs failed (they are listed in it); make then exits with
# the sweep's status. Its rows and models per row come from configs/experiment/$(1).yaml.
define sweep_and_render
	$(PY) train.py -m experiment=$(1) hydra.sweep.dir=$(SWEEPS)/$(1) \
		$(if $(QUICK),$(QUICK_DATA) $(QUICK_MODELS) $(QUICK_$(1))) $(ARGS); \
	status=$$?; \
	$(PY) -m crelu_repro.tables $(1) --sweep-dir $(SWEEPS)/$(1) --out $(TABLES_OUT) $(if $(QUICK),--quick); \
	exit $$status
endef

help:  ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev extra

test: $(STAMP)  ## run the default (fast) test suite
	$(PY) -m pytest -q -n 2 --dist loadfile

test-slow: $(STAMP)  ## run the slow tests on real data (../shared/data or CRELU_DATA)
	$(PY) -m pytest -q -m slow -s

lint: $(STAMP)  ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

train: $(STAMP)  ## train the default model (crelu) on CIFAR-10 under CRELU_DATA; ARGS="..." adds overrides
	$(PY) train.py $(ARGS)

tensorboard: $(STAMP)  ## dashboards on localhost:6006: runs under outputs/, or a table's sweep with TABLE=<table>
	$(if $(TABLE),$(PY) -m crelu_repro.dashboard $(SWEEPS)/$(TABLE) --title "$(TABLE)")
	$(VENV)/bin/tensorboard --logdir $(if $(TABLE),$(SWEEPS)/$(TABLE),outputs) --host 127.0.0.1 --port 6006

benchmark: $(STAMP)  ## training img/s, the trainer's loop vs a naive DataLoader loop: results/benchmarks.md; ARGS="..."
	$(PY) scripts/benchmark.py $(ARGS)

tables: table-params table-convpool table-vgg table-regularization table-imagenet  ## every paper table

# The GPU session runs on a machine with torch but no .venv (source .gpu-kit/bootstrap.sh first): its python
# is GPU_PY. Knobs in the environment or on the command line: BUDGET_S, SUMMARY_DIR, RUNS_DIR, STEPS (see the
# script). The rehearsal reads CIFAR from CRELU_DATA, by default the shared subset.
GPU_PY ?= python3

gpu-session:  ## every GPU check within BUDGET_S (540 s): at most 8 small files in SUMMARY_DIR, a table last
	PY=$(GPU_PY) bash scripts/gpu_session.sh

gpu-session-rehearsal: $(STAMP)  ## the same steps on this CPU with tiny sizes (BUDGET_S, SUMMARY_DIR as above)
	REHEARSAL=1 PY=$(PY) CRELU_DATA=$${CRELU_DATA:-../shared/data/cifar10-subset} bash scripts/gpu_session.sh

table-convpool: $(STAMP)  ## ConvPool-CNN-C x CIFAR-10/100, 10 folds: results/convpool.md (+ .json)
	$(call sweep_and_render,convpool)

table-vgg: $(STAMP)  ## VGG-style x CIFAR-10/100, 10 folds: results/vgg.md (+ .json)
	$(call sweep_and_render,vgg)

table-regularization: $(STAMP)  ## train vs test error, relu vs crelu: results/regularization.md (+ .json)
	$(call sweep_and_render,regularization)

table-imagenet: $(STAMP)  ## All-CNN-B x ImageNet, top-1/5, 10-patch: results/imagenet.md (+ .json)
	$(call sweep_and_render,imagenet)

table-placement: $(STAMP)  ## ours: where to place CReLU, ConvPool-CNN-C x CIFAR-10/100: results/placement.md
	$(call sweep_and_render,placement)

table-params: $(STAMP)  ## results/table_params.md (+ .json): parameter counts, paper vs ours
	$(PY) -m crelu_repro.params --write $(TABLES_OUT)

figures: $(STAMP)  ## the discussion figures from the tables' runs: results/figures/<set>/ (QUICK=1: the quick runs)
	$(PY) scripts/figures.py $(if $(QUICK),--quick) $(ARGS)

claims: $(STAMP)  ## the paper's claims checked against the runs and figures: results/claims.md (+ .json, figures/)
	$(PY) -m crelu_repro.claims --sweeps $(SWEEPS) --out $(TABLES_OUT) $(if $(QUICK),--quick) $(ARGS)

clean:  ## remove caches (keeps .venv, outputs/ and results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
