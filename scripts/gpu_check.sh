#!/usr/bin/env bash
# GPU check of the trainer: ConvPool-CNN-C relu and crelu, 40 epochs, batch 128, 2 seeds each, on the
# shared 12,500-image CIFAR-10 subset; prints test error and images/s and writes a markdown table. The
# reference accuracy it is read against lives in scripts/gpu_summary.py (REFERENCE); scripts/gpu_session.sh
# runs it for seed 0 beside every other GPU check.
#
# On a GPU machine without network, from the repo root (see docs/gpu.md "GPU session"):
#   source .gpu-kit/bootstrap.sh && RUNS_DIR=/tmp/gpu_check SUMMARY_DIR=<folder> bash scripts/gpu_check.sh
#
# Each run's whole output goes to $RUNS_DIR/<model>_s<seed>.log and its run folder (checkpoint included) to
# $RUNS_DIR/<model>_s<seed>/; a failed run's last lines are shown at once, and the summary at the end names
# every run that failed or left no result.json. Exit 0 only when all finished. Rerunning the same command
# skips the finished runs. No variable named OUT is read (remote runners preset it for their own use).
# Knobs: RUNS_DIR (default outputs/gpu_check), RESULT (the markdown; default $SUMMARY_DIR/gpu_check.md, or
# results/gpu_check.md), EPOCHS, MODELS, SEEDS, EXTRA (overrides added to every run), PY, TAIL.
# A CPU rehearsal that leaves results/ alone:
#   EPOCHS=1 RUNS_DIR=/tmp/gpu_check RESULT=/tmp/gpu_check.md \
#     EXTRA="trainer.device=cpu dataset.limit_train=256 dataset.limit_test=128" bash scripts/gpu_check.sh
set -uo pipefail # not -e: a failed run is recorded and the others still run
cd "$(dirname "$0")/.."
: "${CRELU_DATA:?set CRELU_DATA to the folder that holds cifar-10-batches-py}"
PY=${PY:-python3}
RUNS_DIR=${RUNS_DIR:-outputs/gpu_check}
EPOCHS=${EPOCHS:-40}
MODELS=${MODELS:-relu crelu}
SEEDS=${SEEDS:-0 1}
RESULT=${RESULT:-${SUMMARY_DIR:-results}/gpu_check.md}
TAIL=${TAIL:-20} # lines of a failed run's log shown
read -ra EXTRA <<<"${EXTRA:-}" # e.g. EXTRA="trainer.compile=true"
mkdir -p "$RUNS_DIR"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
else
  echo "no nvidia-smi here (a CPU rehearsal?)"
fi
bad=() # "<run>: <why> (log: <file>)" for each run that failed or left no result.json
for model in $MODELS; do
  for seed in $SEEDS; do
    run="${model}_s${seed}"
    log="$RUNS_DIR/$run.log"
    echo "== $run"
    # The full output goes to the log; the terminal gets the last epoch and the end of the run.
    "$PY" train.py model="$model" seed="$seed" trainer.epochs="$EPOCHS" trainer.batch_size=128 \
      dataset.root="$CRELU_DATA" dataset.download=false trainer.progress=false "${EXTRA[@]}" \
      hydra.run.dir="$RUNS_DIR/$run" 2>&1 | tee "$log" | grep --line-buffered -E "epoch ($EPOCHS)/|done:|error"
    rc=${PIPESTATUS[0]}
    if ((rc != 0)); then
      echo "   FAILED with exit $rc; the last $TAIL lines of $log:"
      tail -n "$TAIL" "$log" | sed 's/^/   | /'
      bad+=("$run: exit $rc (log: $log)")
    elif [[ ! -f $RUNS_DIR/$run/result.json ]]; then
      bad+=("$run: exit 0 but no result.json (log: $log)")
    fi
  done
done
"$PY" scripts/summarize_runs.py "$RUNS_DIR" --out "$RESULT" \
  --title "GPU check: ConvPool-CNN-C on the shared CIFAR-10 subset, $EPOCHS epochs, batch 128" ||
  bad+=("summary: scripts/summarize_runs.py failed, $RESULT not written")
if ((${#bad[@]})); then
  echo "== ${#bad[@]} problem(s); rerun the same command to retry (finished runs are skipped):"
  printf '   %s\n' "${bad[@]}"
  exit 1
fi
echo "== every run finished; logs in $RUNS_DIR/, table in $RESULT"
