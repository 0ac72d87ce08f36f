#!/usr/bin/env bash
# The cpu profile's experiments on one GPU in minutes: every run of `reproduce --suite failure`
# (Tables 2 and 3 under normalised and metric depth, naive joint training at each depth weight),
# 3 seeds, JOBS trainers side by side (tools/parallel_runs.py). Runs land where `reproduce` looks
# (runs/cpu, runs/cpu-metric); their records (no checkpoints) are packed into OUT/runs.tgz.
#
#   bash benchmarks/gpu_suite.sh [OUT]        (JOBS=12, LIMIT_S=330 seconds for the training)
set -uo pipefail
OUT=${1:-gpu-suite}
mkdir -p "$OUT"
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/suite.txt"
start=$SECONDS
$PY tools/parallel_runs.py --profile cpu --suite failure --prepare-only 2>&1 | tr '\r' '\n' | grep -v "it/s\|img/s" | tail -3
echo "prepared in $((SECONDS - start)) s" | tee -a "$OUT/suite.txt"
timeout "${LIMIT_S:-330}" $PY tools/parallel_runs.py --profile cpu --suite failure --jobs "${JOBS:-12}" --threads 1 \
  --device cuda 2>&1 | tee -a "$OUT/suite.txt"
echo "wall $((SECONDS - start)) s" | tee -a "$OUT/suite.txt"
tar czf "$OUT/runs.tgz" --exclude="*.safetensors" --exclude="*.pt" runs/cpu runs/cpu-metric runs/parallel-logs
