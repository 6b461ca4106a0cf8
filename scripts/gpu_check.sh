#!/usr/bin/env bash
# GPU check of the trainer: ConvPool-CNN-C relu and crelu, 40 epochs, batch 128, 2 seeds each, on the
# shared 12,500-image CIFAR-10 subset; prints test error and images/s, writes results/gpu_check.md.
# Reference (plain recipe, one H200): relu 13.2%, crelu 14.0% test error, about 20,000 img/s.
#
# On a GPU machine without network, from the repo root (see README "GPU check"):
#   source .gpu-kit/bootstrap.sh && bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CRELU_DATA:?set CRELU_DATA to the folder that holds cifar-10-batches-py}"
OUT=${OUT:-outputs/gpu_check}
EPOCHS=${EPOCHS:-40}
EXTRA=${EXTRA:-}   # e.g. EXTRA="trainer.compile=true"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
for model in relu crelu; do
  for seed in 0 1; do
    python3 train.py model=$model seed=$seed trainer.epochs=$EPOCHS trainer.batch_size=128 \
      dataset.root="$CRELU_DATA" dataset.download=false trainer.progress=false $EXTRA \
      hydra.run.dir="$OUT/${model}_s${seed}" 2>&1 | grep -E "epoch ($EPOCHS)/|done:|error" || true
  done
done
python3 scripts/summarize_runs.py "$OUT" --out results/gpu_check.md \
  --title "GPU check: ConvPool-CNN-C on the shared CIFAR-10 subset, $EPOCHS epochs, batch 128"
