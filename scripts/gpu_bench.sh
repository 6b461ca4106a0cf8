#!/usr/bin/env bash
# Every GPU throughput measurement, more than the session's (both compile modes at both batch sizes, and
# ImageNet compiled): scripts/gpu_session.sh with these steps and no accuracy runs, about 8 minutes on one
# H100 with compilation included. The same knobs (BUDGET_S, default 480 here; SUMMARY_DIR, RUNS_DIR, PY,
# WORKERS, REHEARSAL), the same files, the same table printed last; no variable named OUT is read.
#   source .gpu-kit/bootstrap.sh && SUMMARY_DIR=<folder> bash scripts/gpu_bench.sh
BENCH_STEPS="env pipeline eager imagenet b512-default b128-reduce-overhead allcnnb-compute b512-reduce-overhead"
export STEPS=${STEPS:-$BENCH_STEPS b128-default imagenet-compiled}
export BUDGET_S=${BUDGET_S:-480} SUMMARY_DIR=${SUMMARY_DIR:-outputs/gpu_bench}
exec bash "$(dirname "$0")/gpu_session.sh"
