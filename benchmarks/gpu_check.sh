#!/usr/bin/env bash
# GPU measurements in one go (about 5 minutes on an H100/H200), written to OUT/gpu_check.txt:
#   1. a synthetic VOC-format tree at 448 px (simulated pseudo depth), made on the machine;
#   2. bench_train.py, ResNet50 U-Net at 512 px: fp32 eager, bf16 + channels_last (peak memory, TFLOP/s);
#   3. bench_data.py, gpu profile: v2 loader (0/4/8 workers) vs the array path on the GPU vs the step;
#   4. one epoch per stage of the paper's best recipe (depth-first/copy/s->b, gpu profile, random init)
#      through the real training loop, v2 loader vs array path: img/s per stage;
#   5. bench_train.py with bf16 + channels_last + torch.compile (last: compiling takes minutes).
# Needs torch, torchvision, timm, transformers, scipy; segmentation_models_pytorch is installed from
# .wheels/ when missing (pip download --no-deps segmentation-models-pytorch -d .wheels).
#
#   bash benchmarks/gpu_check.sh [OUT]        (default OUT: gpu-check)
set -uo pipefail  # a failed measurement is reported and the next one still runs
OUT=${1:-gpu-check}
DATA=${DATA:-/tmp/mdseg-voc-like}
N_TRAIN=${N_TRAIN:-2048}
DEVICE=${DEVICE:-cuda}              # DEVICE=cpu SIZE=64 BATCH=2 STEPS=1 N_TRAIN=32 IMAGE=64: a dry run
SIZE=${SIZE:-512}
BATCH=${BATCH:-16}
STEPS=${STEPS:-10}
IMAGE=${IMAGE:-448}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.txt"
source "$(dirname "$0")/gpu_env.sh"

say() { echo "$@" | tee -a "$LOG"; }
step() {
  say ""; say "\$ $*"; local t0=$SECONDS
  "$@" 2>&1 | tr '\r' '\n' | grep -v -E '^\s*$|[0-9]+%\||UserWarning|check_worker_number' | tee -a "$LOG"
  local code=${PIPESTATUS[0]}
  say "($((SECONDS - t0)) s$([ "$code" = 0 ] || echo ", FAILED with exit code $code"))"
}

say "# gpu_check $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$LOG"
$PY -c "import torch, segmentation_models_pytorch as smp; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'smp', smp.__version__)" | tee -a "$LOG"

step $PY -m mdseg data synthetic --root "$DATA" --n-train "$N_TRAIN" --n-val "${N_VAL:-128}" --size "$IMAGE"
step $PY -m mdseg depth --root "$DATA" --teacher simulated

step $PY benchmarks/bench_train.py --encoder resnet50 --size "$SIZE" --batch "$BATCH" --device "$DEVICE" --steps "$STEPS"
step $PY benchmarks/bench_train.py --encoder resnet50 --size "$SIZE" --batch "$BATCH" --device "$DEVICE" --steps "$STEPS" --amp --channels-last

step $PY benchmarks/bench_data.py --profile gpu --data "$DATA" --device "$DEVICE" --workers 0 4 8 --batches "$((STEPS * 2))" --skip-teachers --teacher simulated

for path in loader arrays; do
  rm -rf "/tmp/epoch-$path"
  step $PY -m mdseg train --profile gpu --data "$DATA" --teacher simulated --encoder-weights none \
    --recipe "depth-first/copy/s->b" --epochs 1 --data-path "$path" --out "/tmp/epoch-$path" --device "$DEVICE"
  cp "/tmp/epoch-$path/log.jsonl" "$OUT/epoch-$path.jsonl" || true
done
$PY - "$OUT" "$N_TRAIN" <<'EOF' | tee -a "$LOG"
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
print("\n# one epoch per stage of depth-first/copy/s->b (gpu profile, 384 px crops, batch 16), images/s incl. validation")
for path in ("loader", "arrays"):
    records = [json.loads(l) for l in open(f"{out}/epoch-{path}.jsonl")]
    seconds = [r["seconds"] for r in records]
    steps = [b - a for a, b in zip([0.0] + seconds, seconds)]
    print(f"{path:7}: " + ", ".join(f"{r['stage_name']} {n / s:6.1f} img/s ({s:.1f} s)" for r, s in zip(records, steps)))
EOF
# last, as compiling takes minutes: bf16 + channels_last + torch.compile (cut off after COMPILE_S seconds)
step timeout "${COMPILE_S:-200}" $PY benchmarks/bench_train.py --encoder resnet50 --size "$SIZE" --batch "$BATCH" \
  --device "$DEVICE" --steps "$STEPS" --amp --channels-last --compile
say "done"
