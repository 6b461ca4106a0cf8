# crelu-repro: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ARGS ?=

.PHONY: help install test test-slow lint train tensorboard benchmark tables table-params figures claims plan gpu-session \
	gpu-session-rehearsal clean

# QUICK=1 runs a table's QUICK recipe instead (each experiment's `table.quick` node: a data subset, one
# epoch, two models per row: configs/experiment/quick.yaml) into multirun/quick/ and results/quick/: same columns, numbers not comparable.
QUICK ?=
# The sweeps' root (crelu_repro/core/paths.py: their one home). No comment after the value: make would keep
# the spaces before it, and $(SWEEPS)/$(TABLE) would split in two.
SWEEPS = $(shell $(PY) -m crelu_repro.core.paths $(if $(QUICK),--quick))
TABLES_OUT := $(if $(QUICK),results/quick,results)

# Every configs/experiment/<table>.yaml with a `table:` node is a table (crelu_repro/evidence/tables/).
TABLE_FILES := $(shell grep -l '^table:' configs/experiment/[!_]*.yaml)
TABLE_CLI = $(PY) -m crelu_repro.evidence.tables $* $(if $(QUICK),--quick)

help:  ## list every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'
	@for f in $(TABLE_FILES); do \
		printf "  make %-18s %s: results/%s.md (+ .json)\n" "table-$$(basename $$f .yaml)" \
			"$$(sed -n 's/^  title: *//p' $$f | tr -d '"')" "$$(basename $$f .yaml)"; done
	@echo "  (QUICK=1: a table's CPU smoke recipe; ARGS=\"...\": overrides for the sweep and the table alike)"

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
	$(if $(TABLE),$(PY) -m crelu_repro.train.dashboard $(SWEEPS)/$(TABLE) --title "$(TABLE)")
	$(VENV)/bin/tensorboard --logdir $(if $(TABLE),$(SWEEPS)/$(TABLE),outputs) --host 127.0.0.1 --port 6006

benchmark: $(STAMP)  ## training img/s, the trainer's loop vs a naive DataLoader loop: results/benchmarks.md; ARGS="..."
	$(PY) scripts/benchmark.py $(ARGS)

tables: table-params table-convpool table-vgg table-regularization table-imagenet  ## every paper table

# make table-<table> [QUICK=1] [ARGS="overrides"]: the table's sweep (resumable: finished runs are skipped),
# then its rendering from exactly the runs that sweep plans, composed with the same ARGS (another recipe
# gets its own folder: crelu_repro/core/paths.py). The table is rendered even when some runs failed (it lists
# them); make then exits with the sweep's status.
table-%: $(STAMP)
	@sweep="$$($(TABLE_CLI) --sweep-args)" || exit $$?; \
	echo "$(PY) train.py -m $$sweep $(ARGS)"; \
	$(PY) train.py -m $$sweep $(ARGS); status=$$?; \
	$(TABLE_CLI) --out $(TABLES_OUT) -- $(ARGS) || exit $$?; \
	exit $$status

# TABLE=<table>: that table and the claims resting on it (default: every table and claim); a TABLE given but
# empty (TABLE= or TABLE='$(x)', which make expands to nothing) is passed on, and refused, not taken for all.
# PROBE=1 measures each step not yet probed on this machine and stores it (results/probes.json); later plans
# read it. ARGS="--steps 5" probes fewer steps, ARGS="-- trainer.epochs=350 sched=step" prices that recipe.
plan: $(STAMP)  ## device-hours of each table and claim, read not measured: results/plan.md; TABLE=<table>, PROBE=1 measures here
	$(PY) -m crelu_repro.evidence.plan --sweeps $(SWEEPS) --out $(TABLES_OUT) \
		$(if $(filter undefined,$(origin TABLE)),,--table '$(subst ','\'',$(TABLE))') \
		$(if $(filter-out 0,$(PROBE)),--probe) $(if $(QUICK),--quick) $(ARGS)

# The GPU session runs on a machine with torch but no .venv (source .gpu-kit/bootstrap.sh first): its python
# is GPU_PY. Knobs in the environment or on the command line: BUDGET_S, SUMMARY_DIR, RUNS_DIR, STEPS (see the
# script). The rehearsal reads CIFAR from CRELU_DATA, by default the shared subset.
GPU_PY ?= python3

gpu-session:  ## every GPU check within BUDGET_S (540 s): at most 8 small files in SUMMARY_DIR, a table last
	PY=$(GPU_PY) bash scripts/gpu_session.sh

gpu-session-rehearsal: $(STAMP)  ## the same steps on this CPU with tiny sizes (BUDGET_S, SUMMARY_DIR as above)
	REHEARSAL=1 PY=$(PY) CRELU_DATA=$${CRELU_DATA:-../shared/data/cifar10-subset} bash scripts/gpu_session.sh

table-params: $(STAMP)  ## results/table_params.md (+ .json): parameter counts, paper vs ours
	$(PY) -m crelu_repro.params --write $(TABLES_OUT)

figures: $(STAMP)  ## the discussion figures from the tables' runs: results/figures/<set>/ (QUICK=1: the quick runs)
	$(PY) scripts/figures.py $(if $(QUICK),--quick) $(ARGS)

claims: $(STAMP)  ## the paper's claims checked against the runs and figures: results/claims.md (+ .json, figures/)
	$(PY) -m crelu_repro.evidence.claims --sweeps $(SWEEPS) --out $(TABLES_OUT) $(if $(QUICK),--quick) $(ARGS)

clean:  ## remove caches (keeps .venv, outputs/ and results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
