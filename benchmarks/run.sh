#!/usr/bin/env bash
# Run every benchmark (benchmarks/<name>/run.sh) and print where results went.
# Benchmarks are run by hand and recorded in docs/benchmarks.md; they are never
# part of `make test`.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
found=0
for bench in "$ROOT"/benchmarks/*/run.sh; do
  [ -e "$bench" ] || continue
  found=1
  log "benchmark $(basename "$(dirname "$bench")")"
  bash "$bench"
done
[ "$found" = 1 ] || log "no benchmarks yet (benchmarks/<name>/run.sh)"
