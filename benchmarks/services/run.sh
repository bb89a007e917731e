#!/usr/bin/env bash
# docker_services (one task) against a loop of community.docker.docker_container,
# 100 services with limits on the local dockerd; results in benchmarks/results/services.json.
# Record them in docs/benchmarks.md (## Services).  COUNT=20 for a quick look.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
"$VENV/bin/python" "$ROOT/benchmarks/services/run.py" --count "${COUNT:-100}" "$@"
