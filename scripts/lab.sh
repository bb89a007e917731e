#!/usr/bin/env bash
# The main job: the local lab.  This machine is the hypervisor; site.yml on
# inventories/lab builds guests, Docker in them, services with limits, and
# prints the platform map.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1
if [ ! -f playbooks/site.yml ]; then
  log "setup is complete: packages, daemons, venv, collection link and base images are ready."
  log "The lab playbooks (playbooks/site.yml on inventories/lab) are not written yet: once they are,"
  log "'make lab' will define two guests on this machine (KVM if usable, TCG otherwise), install the"
  log "hardened Docker engine in them, deploy a web + database stack with limits, and print the map."
  exit 0
fi
exec "$VENV/bin/ansible-playbook" -i inventories/lab playbooks/site.yml "$@"
