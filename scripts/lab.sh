#!/usr/bin/env bash
# The main job: the local lab.  This machine is the hypervisor; site.yml on
# inventories/lab runs a private registry here, two guests (KVM if usable, TCG
# otherwise), the hardened Docker engine in them and a web + database stack
# with limits, then writes the platform map and prints it.
#   scripts/lab.sh [ansible-playbook options...]   e.g. -e lab_web_version=2
# Run `make setup` first (make lab does).
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1
[ -x "$VENV/bin/ansible-playbook" ] || die "no venv at $VENV: run 'make setup' first"

# The guests' admin key (inventories/lab/group_vars/all.yml: lab_dir, lab_ssh_key):
# the machine's, like the guests, not the checkout's.
lab_dir="${HYPERDOCK_LAB_DIR:-/var/lib/hyperdock/lab}"
map_dir="$ROOT/build/map"
mkdir -p -m 0700 "$lab_dir"
if [ ! -f "$lab_dir/id_ed25519" ]; then
  log "creating the lab's SSH key $lab_dir/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C hyperdock-lab -f "$lab_dir/id_ed25519"
fi

start=$SECONDS
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
"$VENV/bin/ansible-playbook" -i inventories/lab playbooks/site.yml "$@" || die "site.yml failed (see above)"
log "lab: site.yml done in $((SECONDS - start))s"
if [ -f "$map_dir/map.txt" ]; then
  printf '\n'
  cat "$map_dir/map.txt"
  printf '\nThe platform map: %s\n  (also %s and %s)\n' "$map_dir/map.html" "$map_dir/map.svg" "$map_dir/map.json"
fi
