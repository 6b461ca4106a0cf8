#!/usr/bin/env bash
# Every GPU throughput measurement in one go, about 8 minutes on one H100 with compilation included: the
# project's trainer loop against a naive PyTorch loop (scripts/benchmark.py) for ConvPool-CNN-C crelu at
# batch 512 and 128 (eager, torch.compile default and reduce-overhead), both input pipelines, and All-CNN-B
# on synthetic ImageNet-shaped JPEGs. Writes results/benchmarks_gpu.md (+ .json); prints a short table last.
#
# On a GPU machine without network, from the repo root (README "GPU check" lays out .gpu-kit/):
#   source .gpu-kit/bootstrap.sh && bash scripts/gpu_bench.sh
#
# Each measurement is its own process under `timeout`: one that fails, hangs or runs out of memory loses
# only its own rows (rows are written as they finish). No measurement starts unless its expected time fits
# in BUDGET_S; the first ones are those the targets need. Whatever finished is merged at the end; the exit
# status is non-zero when a measurement failed. Ctrl-C or SIGTERM stops the measurement in flight, merges
# what finished (its finished rows included) and exits 130 / 143 at once.
# Knobs: BUDGET_S, STEPS, OUT, RESULT, PY, WORKERS, EXTRA (appended to every benchmark.py call:
# EXTRA="--smoke --imagenet-batch 2" RESULT=/tmp/x.md is a dry run on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${CRELU_DATA:?set CRELU_DATA to the folder that holds cifar-10-batches-py (source .gpu-kit/bootstrap.sh)}"
PY=${PY:-python3}
OUT=${OUT:-outputs/gpu_bench}            # per-measurement parts and logs
RESULT=${RESULT:-results/benchmarks_gpu.md}
BUDGET_S=${BUDGET_S:-420}   # no measurement starts past this; none runs past BUDGET_S + 60 (8 min in all)
STEPS=${STEPS:-200}         # timed steps per training measurement (b512 at 75k img/s: 1.4 s)
WORKERS=${WORKERS:-8}       # the naive DataLoaders' workers (ImageNetLoader's too)
read -ra EXTRA <<<"${EXTRA:-}"
rm -rf "$OUT" && mkdir -p "$OUT"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1
else
  echo "no nvidia-smi here (a CPU dry run?)"
fi
$PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
parts=()   # the JSON reports written so far
failed=()  # "NAME (exit N)" of each measurement that did not exit 0
inflight=  # pid of the measurement's `timeout` while one runs, and its name
current=

merge() {  # whatever finished is merged and shown; non-zero when the merge itself failed
  if ((${#parts[@]})); then
    $PY scripts/benchmark.py --merge "${parts[@]}" --out "$RESULT" 2>&1 | tail -n 40
  else
    echo "no measurement finished; see $OUT/*.log"
  fi
}

interrupted() {  # SIGNAL CODE: stop the measurement in flight, merge what finished, exit CODE
  trap - INT TERM
  echo "== SIG$1 at ${SECONDS}s: stopping${current:+ $current}; no further measurement starts"
  if [[ -n $inflight ]]; then
    kill -TERM "$inflight" 2>/dev/null  # `timeout` passes it to the whole measurement; -k 15 bounds it
    wait "$inflight"
    [[ -f $OUT/$current.json ]] && parts+=("$OUT/$current.json")  # the rows it finished
  fi
  merge
  exit "$2"
}
# Bash runs a trap only between commands: measurements run in the background and are waited for, so
# that a signal is handled at once rather than after the measurement in flight.
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM

# measure NAME EXPECTED_S LIMIT_S ARGS...: one scripts/benchmark.py process, killed after LIMIT_S.
measure() {
  local name=$1 expect=$2 limit=$3
  shift 3
  if ((SECONDS + expect > BUDGET_S)); then
    echo "== $name: skipped, ${SECONDS}s used and about ${expect}s needed (BUDGET_S=$BUDGET_S)"
    return
  fi
  limit=$((limit < BUDGET_S + 60 - SECONDS ? limit : BUDGET_S + 60 - SECONDS))
  echo "== $name (at ${SECONDS}s, limit ${limit}s)"
  local start=$SECONDS rc
  timeout -k 15 "$limit" $PY scripts/benchmark.py --data "$CRELU_DATA" --workers "$WORKERS" \
    --out "$OUT/$name.md" "$@" "${EXTRA[@]}" >"$OUT/$name.log" 2>&1 &
  inflight=$! current=$name
  wait "$inflight"
  rc=$?
  inflight= current=
  grep -E "^   kind=" "$OUT/$name.log" | sed -E 's/, (dataset|device|batches|rounds)=[^,]*//g' || true
  ((rc == 0)) || echo "   exit $rc after $((SECONDS - start))s$( ((rc == 124 || rc == 137)) && echo ' (timed out)'):" \
    "$(grep -vE '^(->|   kind=)' "$OUT/$name.log" | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
  ((rc == 0)) || failed+=("$name (exit $rc)")
  [[ -f $OUT/$name.json ]] && parts+=("$OUT/$name.json")
}

TRAIN=(--no-pipeline --models crelu --steps "$STEPS" --warmup 20)
# Input pipelines alone, CIFAR: DeviceLoader vs the naive DataLoader.
measure pipeline 45 150 --no-train --batch-sizes 512 128 --repeats 3 --pipeline-batches 60
# Eager first: the baseline of every target and the naive reference at both batch sizes.
measure eager 70 200 "${TRAIN[@]}" --batch-sizes 512 128 --compile none
measure b512-default 100 240 "${TRAIN[@]}" --batch-sizes 512 --compile default --naive-steps 100
measure b128-reduce-overhead 100 240 "${TRAIN[@]}" --batch-sizes 128 --compile reduce-overhead --naive-steps 100
# ImageNet-shaped: 500x375 JPEGs of 70-110 KB, ImageNetLoader (decode on the GPU) vs ImageFolder + PIL.
measure imagenet 90 240 --no-cifar --imagenet --compile none --steps 100 --warmup 10 --naive-steps 30 \
  --pipeline-batches 30 --repeats 1
measure b512-reduce-overhead 100 240 "${TRAIN[@]}" --batch-sizes 512 --compile reduce-overhead --naive-steps 100
measure b128-default 100 240 "${TRAIN[@]}" --batch-sizes 128 --compile default --naive-steps 100
measure imagenet-compiled 120 240 --no-cifar --imagenet --no-pipeline --compile default --steps 100 \
  --warmup 10 --naive-steps 30
echo "== measurements done in ${SECONDS}s; logs in $OUT/"
trap - INT TERM
merge || failed+=("merge")
if ((${#failed[@]})); then
  echo "== failed: ${failed[*]}; see $OUT/<name>.log"
  exit 1
fi
