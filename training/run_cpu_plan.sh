#!/usr/bin/env bash
# Every chunk of the CPU plan, one after another (never two training jobs at once), each under a
# 10-minute timeout; a second pass finishes any run a timeout cut short (finished runs are skipped).
#   nohup training/run_cpu_plan.sh ../shared/data/cifar10-jpeg.tar.gz results/cifar-cpu \
#       >> results/cifar-cpu/log.txt 2>&1 &
set -u
DATA=${1:-data/cifar10-jpeg.tar.gz}
OUT=${2:-results/cifar-cpu}
PY=${PYTHON:-python}
export PYTHONUNBUFFERED=1
for pass in 1 2; do
  for c in $($PY -m training.plan list --profile cpu --ids); do
    echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) pass $pass chunk $c"
    timeout 600 "$PY" -m training.plan run "$c" --profile cpu --data "$DATA" --out "$OUT" \
      || echo "=== chunk $c exited with status $?"
  done
done
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) all chunks done"
