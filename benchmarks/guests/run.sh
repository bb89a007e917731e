#!/usr/bin/env bash
# hyperdock.platform.guest against community.libvirt.virt (same XML), 20 small guests on qemu:///system;
# results in benchmarks/results/guests.json. Record them in docs/benchmarks.md (## Guests).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
"$VENV/bin/python" "$ROOT/benchmarks/guests/run.py" --count "${COUNT:-20}" "$@"
