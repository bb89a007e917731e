#!/usr/bin/env bash
# ansible-test sanity needs the collection under .../ansible_collections/NS/NAME
# and sees every file there, so run it on a copy of what git tracks (plus new,
# not-ignored files): no venv, cache or test output gets in.
#
# ansible-test's --venv mode bootstraps pip from a host this machine cannot
# reach, so sanity gets its own venv (ansible-core only, plus the sanity
# requirements ansible-test pins), kept apart from .venv so its pins never
# clash with ansible-lint's, and rebuilt only when the ansible-core pin changes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CORE="$(grep -E '^ansible-core==' "$ROOT/requirements-dev.txt")"
SVENV="$ROOT/.cache/sanity-venv"
if [ "$(cat "$SVENV/.stamp" 2>/dev/null)" != "$CORE" ]; then
  log "building sanity venv ($CORE)"
  rm -rf "$SVENV"
  python3 -m venv "$SVENV"
  "$SVENV/bin/pip" install -q "$CORE" 2>&1 | grep -v "^WARNING: Location" || true
  echo "$CORE" >"$SVENV/.stamp.pending"
fi
PIP_PIN="$(grep -Po "pip='\K[0-9.]+" "$SVENV"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py | head -1)"
mkdir -p ~/.ansible/test/cache
install -m 0644 "$ROOT/scripts/ansible-test-get-pip.py" ~/.ansible/test/cache/"get_pip_${PIP_PIN//./_}.py"
PY="$("$SVENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DEST="$WORK/ansible_collections/hyperdock/platform"
mkdir -p "$DEST"
cd "$ROOT" || exit 1
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | rsync -a --from0 --files-from=- ./ "$DEST/"
cd "$DEST" || exit 1
git init -q . && git add -A >/dev/null  # ansible-test lists files through git when it can
log "ansible-test sanity --python $PY"
"$SVENV/bin/ansible-test" sanity --local --requirements --python "$PY" --color no "$@"
# the requirements are in now: later runs skip the install
[ -f "$SVENV/.stamp.pending" ] && mv "$SVENV/.stamp.pending" "$SVENV/.stamp"
exit 0
