# Shared helpers for scripts/*.sh; sourced, not run.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HYPERDOCK_CACHE="${HYPERDOCK_CACHE:-/var/cache/hyperdock}"
VENV="${VENV:-$ROOT/.venv}"
export ROOT HYPERDOCK_CACHE VENV

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# True when systemd manages this machine (PID 1), false in a bare container.
have_systemd() { [ -d /run/systemd/system ] && [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; }

# wait_for SECONDS DESCRIPTION CMD...: poll CMD until it succeeds.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local i
  for ((i = 0; i < seconds * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up within ${seconds}s (tried: $*)"
}

need_root() { [ "$(id -u)" = 0 ] || die "$1 must run as root (it installs packages and starts daemons)"; }
