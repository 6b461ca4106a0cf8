#!/usr/bin/env bash
# One command for a GPU session: every GPU check of this project within BUDGET_S seconds (default 540, with
# the summary), a few small files in SUMMARY_DIR, a short table printed last with each figure beside its
# target. On a GPU machine without network, from the repo root (docs/gpu.md "GPU session" lays out .gpu-kit/):
#   source .gpu-kit/bootstrap.sh && SUMMARY_DIR=<folder that comes back> bash scripts/gpu_session.sh
# or `make gpu-session SUMMARY_DIR=...`. A CPU rehearsal of the same steps, tiny sizes: REHEARSAL=1 (make
# gpu-session-rehearsal).
#
# Steps, in order (STEPS= picks and orders them): env (nvidia-smi, versions, /dev/shm, cores); pipeline
# (CIFAR input pipelines alone); eager (ConvPool-CNN-C crelu b512 and b128 against the naive loop); imagenet
# (All-CNN-B end to end, nvJPEG, synthetic JPEGs: the only decode measurement, so early); check-relu and
# check-crelu (EPOCHS=40 on the CIFAR subset, seed 0: accuracy against the reference); det (two short
# trainer.deterministic=true runs, compared); allcnnb-compute (All-CNN-B's model step alone); b512-default
# (torch.compile); b128-reduce-overhead (CUDA graphs). Also known, for scripts/gpu_bench.sh:
# b512-reduce-overhead, b128-default, imagenet-compiled.
#
# Each step is its own process under `timeout`, bounded by the time left; a step that does not fit is
# skipped, one that times out keeps its log, and the rest go on. SIGINT / SIGTERM stops the step in flight
# and writes the summary of what finished (exit 130 / 143). Exit 1 when a step failed or timed out.
# Knobs: BUDGET_S, SUMMARY_DIR (default outputs/gpu_session), RUNS_DIR (run folders, parts and logs; default
# a new folder under /tmp; it must be new or empty, and nothing is ever deleted), STEPS, EPOCHS, PY, WORKERS,
# STEP_LIMIT_S (no step longer than this). BUDGET_S, STEP_LIMIT_S, EPOCHS and WORKERS are checked before
# anything is made (exit 2, one line); so is a budget too small for the shortest of STEPS.
# No script here reads or deletes a variable named OUT: remote runners preset that name for their own use.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${CRELU_DATA:?set CRELU_DATA to the folder that holds cifar-10-batches-py (source .gpu-kit/bootstrap.sh)}"
PY=${PY:-python3}
REHEARSAL=${REHEARSAL:-}
BUDGET_S=${BUDGET_S:-$([[ -n $REHEARSAL ]] && echo 90 || echo 540)} # a rehearsal: tiny; BUDGET_S=300 runs every step
SUMMARY_DIR=${SUMMARY_DIR:-outputs/gpu_session$([[ -n $REHEARSAL ]] && echo _rehearsal)}
RESERVE_S=15 # kept for the summary
STEP_LIMIT_S=${STEP_LIMIT_S:-600} # no step runs longer (each also has its own cap, below)
WORKERS=${WORKERS:-8}
STEPS=${STEPS:-env pipeline eager imagenet check-relu check-crelu det allcnnb-compute b512-default b128-reduce-overhead}
# Each step's expected seconds on one H100 with compilation: a step is not started with less time left.
declare -A EXPECT=([env]=5 [pipeline]=20 [eager]=45 [imagenet]=50 [check-relu]=40 [check-crelu]=40 [det]=30
  [allcnnb-compute]=15 [b512-default]=60 [b128-reduce-overhead]=60 [b512-reduce-overhead]=60 [b128-default]=60
  [imagenet-compiled]=90)

# The knobs, checked before anything is made: BUDGET_S=abc was "abc: unbound variable" in every step, a
# usage error last and a runs folder left behind; BUDGET_S=0 "succeeded" with no step run.
knob() { # NAME MIN WHAT: $NAME a whole number >= MIN (made decimal: 010 is ten, not octal), else exit 2
  local value=${!1}
  if [[ ! $value =~ ^[0-9]{1,9}$ ]] || ((10#$value < $2)); then
    echo "error: $1=$value: give $3, a whole number >= $2" >&2
    exit 2
  fi
  printf -v "$1" %d "$((10#$value))"
}
knob BUDGET_S 0 "the session's seconds"
knob STEP_LIMIT_S 1 "the most seconds one step may run"
knob WORKERS 0 "the naive loader's worker processes"
[[ -z ${EPOCHS:-} ]] || knob EPOCHS 1 "the accuracy checks' epochs"
least=0 # the shortest known step of STEPS, in seconds (an unknown name is recorded as failed, below)
for name in $STEPS; do
  e=${EXPECT[$name]:-0}
  ((e > 0 && (least == 0 || e < least))) && least=$e
done
if ((least > 0 && BUDGET_S - RESERVE_S < least)); then
  echo "error: BUDGET_S=$BUDGET_S leaves no time for any step (${RESERVE_S}s are kept for the summary, the" \
    "shortest step needs about ${least}s); give BUDGET_S=$((RESERVE_S + least)) or more" >&2
  exit 2
fi
if [[ -n ${RUNS_DIR:-} ]]; then
  if [[ -d $RUNS_DIR && -n $(ls -A "$RUNS_DIR") ]]; then
    echo "error: RUNS_DIR=$RUNS_DIR is not empty; give a new or empty folder (nothing here deletes files)" >&2
    exit 2
  fi
  mkdir -p "$RUNS_DIR" || exit 2
else
  RUNS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/crelu-gpu-session.XXXXXX") || exit 2
fi
mkdir -p "$RUNS_DIR/logs" "$RUNS_DIR/bench" "$SUMMARY_DIR" || exit 2
STATUS=$RUNS_DIR/steps.tsv # name, status, exit code, seconds, limit, note: the summary reads it

if [[ -n $REHEARSAL ]]; then # the same steps on the CPU: tiny sizes, compile traced only (no C++ build)
  export CUDA_VISIBLE_DEVICES=""
  EPOCHS=${EPOCHS:-1}
  TRAIN="trainer.device=cpu dataset.limit_train=256 dataset.limit_test=128" # every training run
  DET=""                                                                    # the deterministic runs' own
  BENCH=(--device cpu --smoke --threads 1 --compile-backend eager --imagenet-batch 2)
  BIG=4 SMALL=2 WORKERS=1
else
  EPOCHS=${EPOCHS:-40}
  TRAIN="trainer.device=cuda"
  DET="dataset.limit_train=2560" # 20 steps at batch 128: the path, not the accuracy
  BENCH=(--device cuda)
  BIG=512 SMALL=128
fi
export PY RUNS_DIR CRELU_DATA TRAIN DET
echo "== GPU session: budget ${BUDGET_S}s, summary -> $SUMMARY_DIR, runs -> $RUNS_DIR${REHEARSAL:+ (CPU rehearsal)}"
inflight= current=

left() { echo $((BUDGET_S - RESERVE_S - SECONDS)); }

record() { # NAME STATUS RC SECONDS LIMIT NOTE
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$STATUS"
}

# run_step NAME EXPECT CAP CMD...: CMD under `timeout`, at most CAP seconds and never past the budget; not
# started when less than EXPECT seconds are left. Its whole output goes to logs/NAME.log.
run_step() {
  local name=$1 expect=$2 cap=$3 limit rc start=$SECONDS
  shift 3
  limit=$(left)
  if ((limit < expect)); then
    echo "== $name: skipped, $((SECONDS))s used, ${limit}s left, about ${expect}s needed"
    record "$name" skipped "" 0 "$limit" "about ${expect}s needed, ${limit}s left"
    return 0
  fi
  ((limit > cap)) && limit=$cap
  ((limit > STEP_LIMIT_S)) && limit=$STEP_LIMIT_S
  echo "== $name (at ${SECONDS}s, limit ${limit}s)"
  timeout -k 5 "$limit" "$@" </dev/null >"$RUNS_DIR/logs/$name.log" 2>&1 &
  inflight=$! current=$name
  wait "$inflight"
  rc=$?
  inflight= current=
  if ((rc == 0)); then
    record "$name" ok 0 $((SECONDS - start)) "$limit" ""
  elif ((rc == 124 || rc == 137)); then
    echo "   timed out after $((SECONDS - start))s (limit ${limit}s); its log: $RUNS_DIR/logs/$name.log"
    record "$name" "timed out" "$rc" $((SECONDS - start)) "$limit" "$(tail -n 1 "$RUNS_DIR/logs/$name.log" | cut -c1-200)"
  else
    echo "   exit $rc; the last lines of $RUNS_DIR/logs/$name.log:"
    tail -n 5 "$RUNS_DIR/logs/$name.log" | sed 's/^/   | /'
    record "$name" failed "$rc" $((SECONDS - start)) "$limit" "$(tail -n 1 "$RUNS_DIR/logs/$name.log" | cut -c1-200)"
  fi
  return 0
}

bench() { # NAME EXPECT CAP ARGS...: one scripts/benchmark.py measurement; its rows in bench/NAME.json
  local name=$1 expect=$2 cap=$3
  shift 3
  run_step "$name" "$expect" "$cap" "$PY" scripts/benchmark.py --data "$CRELU_DATA" --workers "$WORKERS" \
    --tmp "$RUNS_DIR" --out "$RUNS_DIR/bench/$name.md" "$@" "${BENCH[@]}"
  [[ -f $RUNS_DIR/bench/$name.json ]] && "$PY" scripts/gpu_summary.py --digest "$RUNS_DIR/bench/$name.json"
  return 0
}

check() { # MODEL: gpu_check.sh for one model, seed 0, at the reference recipe's warm-up (pct_start 0.15)
  run_step "check-$1" "${EXPECT[check-$1]}" 150 env MODELS="$1" SEEDS=0 EPOCHS="$EPOCHS" RUNS_DIR="$RUNS_DIR/check" \
    RESULT="$RUNS_DIR/check/gpu_check.md" EXTRA="sched.pct_start=0.15 $TRAIN" bash scripts/gpu_check.sh
}

fn_step() { # NAME EXPECT CAP FUNCTION: one of the functions below, as a step (a process of its own)
  run_step "$1" "$2" "$3" bash -c "$(declare -f "$4"); $4"
}

det() { # two short deterministic runs of the same command: the summary compares them
  local run args
  read -ra args <<<"$TRAIN $DET"
  for run in a b; do
    "$PY" train.py model=relu seed=0 trainer.deterministic=true trainer.epochs=1 dataset.root="$CRELU_DATA" \
      dataset.download=false trainer.progress=false "${args[@]}" hydra.run.dir="$RUNS_DIR/det/$run" || return
  done
}

environment() { # what the machine is: the card, driver, versions, shared memory, cores
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi 2>&1
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
  else
    echo "no nvidia-smi here (a CPU rehearsal?)"
  fi
  grep -m1 "model name" /proc/cpuinfo 2>&1
  "$PY" - <<'EOF'
import os, platform, torch, torchvision
print("python", platform.python_version(), "torch", torch.__version__, "torchvision", torchvision.__version__,
      "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device", p.name, f"{p.total_memory / 2**30:.1f} GiB", "sm", f"{p.major}.{p.minor}", "SMs", p.multi_processor_count)
print("cores", os.cpu_count(), "usable", len(os.sched_getaffinity(0)), "load", os.getloadavg())
EOF
  df -h /dev/shm 2>&1
  free -g 2>&1 | head -2
}

step() { # NAME: the session's steps (each with its EXPECT seconds, above, and its cap)
  local train=(--no-pipeline --models crelu --steps 200 --warmup 20 --naive-steps 100) e=${EXPECT[$1]:-0}
  case $1 in
  env) fn_step env "$e" 30 environment ;;
  pipeline) bench pipeline "$e" 90 --no-train --batch-sizes "$BIG" "$SMALL" --repeats 3 --pipeline-batches 60 ;;
  eager) bench eager "$e" 150 "${train[@]}" --batch-sizes "$BIG" "$SMALL" --compile none ;;
  imagenet) bench imagenet "$e" 150 --no-cifar --imagenet --compile none --steps 60 --warmup 10 --naive-steps 20 \
    --pipeline-batches 20 --repeats 1 ;;
  check-relu) check relu ;;
  check-crelu) check crelu ;;
  det) fn_step det "$e" 90 det ;;
  allcnnb-compute) bench allcnnb-compute "$e" 60 --no-cifar --imagenet --compute-only --compile none --steps 50 \
    --warmup 5 ;;
  b512-default) bench b512-default "$e" 150 "${train[@]}" --batch-sizes "$BIG" --compile default ;;
  b128-reduce-overhead) bench b128-reduce-overhead "$e" 150 "${train[@]}" --batch-sizes "$SMALL" \
    --compile reduce-overhead ;;
  b512-reduce-overhead) bench b512-reduce-overhead "$e" 150 "${train[@]}" --batch-sizes "$BIG" \
    --compile reduce-overhead ;;
  b128-default) bench b128-default "$e" 150 "${train[@]}" --batch-sizes "$SMALL" --compile default ;;
  imagenet-compiled) bench imagenet-compiled "$e" 200 --no-cifar --imagenet --no-pipeline --compile default \
    --steps 60 --warmup 10 --naive-steps 20 ;;
  *)
    echo "== $1: no such step (known: env pipeline eager imagenet check-relu check-crelu det" \
      "allcnnb-compute b512-default b128-reduce-overhead b512-reduce-overhead b128-default imagenet-compiled)"
    record "$1" failed 2 0 0 "no such step"
    ;;
  esac
}

summary() { # the files in SUMMARY_DIR and the table, printed last
  timeout -k 5 60 "$PY" scripts/gpu_summary.py --runs "$RUNS_DIR" --out "$SUMMARY_DIR" --budget "$BUDGET_S" \
    --epochs "$EPOCHS" ${REHEARSAL:+--rehearsal} --stopped "${1:-}"
}

interrupted() { # SIGNAL CODE: stop the step in flight, summarize what finished, exit CODE
  trap - INT TERM
  echo "== SIG$1 at ${SECONDS}s: stopping${current:+ $current}; no further step starts"
  if [[ -n $inflight ]]; then
    kill -TERM "$inflight" 2>/dev/null # `timeout` passes it to the step's process group; -k 5 bounds it
    wait "$inflight"
    record "$current" "stopped (SIG$1)" "" "" "" ""
  fi
  summary "SIG$1"
  exit "$2"
}
# Bash runs a trap only between commands: steps run in the background and are waited for, so a signal is
# handled at once rather than after the step in flight.
trap 'interrupted INT 130' INT
trap 'interrupted TERM 143' TERM

for name in $STEPS; do
  step "$name"
done
trap - INT TERM
echo "== steps done in ${SECONDS}s; runs and logs in $RUNS_DIR"
summary
