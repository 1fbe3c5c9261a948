#!/usr/bin/env bash
# Every chunk of the CPU plan, one after another (never two training jobs at once), each under a
# 10-minute timeout; a second pass finishes any run a timeout cut short (finished runs are skipped).
#   nohup training/run_cpu_plan.sh data/cifar10-jpeg.tar.gz results/cifar-cpu \
#       >> results/cifar-cpu/log.txt 2>&1 &
# STOP_AT=HH:MM (UTC, optional): start no chunk after it, and cut the running one at STOP_AT + 10 min
# (the cut run is left resumable; a later call of this script continues it).
set -u
DATA=${1:-data/cifar10-jpeg.tar.gz}
OUT=${2:-results/cifar-cpu}
PY=${PYTHON:-python}
export PYTHONUNBUFFERED=1
stop=""
[ -n "${STOP_AT:-}" ] && stop=$(date -u -d "$STOP_AT" +%s)
for pass in 1 2; do
  for c in $($PY -m training.plan list --profile cpu --ids); do
    limit=600
    if [ -n "$stop" ]; then
      now=$(date -u +%s)
      if [ "$now" -ge "$stop" ]; then echo "=== $(date -u +%H:%M:%SZ) STOP_AT $STOP_AT reached: chunk $c not started"; continue; fi
      left=$(( stop + 600 - now )); [ "$left" -lt "$limit" ] && limit=$left
    fi
    echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) pass $pass chunk $c"
    timeout "$limit" "$PY" -m training.plan run "$c" --profile cpu --data "$DATA" --out "$OUT" \
      || echo "=== chunk $c exited with status $?"
  done
done
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) all chunks done"
