#!/usr/bin/env bash
# Start dockerd, virtlogd, libvirtd and libvirt's `default` NAT network when
# they are not already answering.  Uses systemd where it is PID 1 and starts the
# daemons directly where it is not (containers, CI sandboxes).  Idempotent.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "scripts/daemons.sh"

LOGDIR=/var/log/hyperdock
mkdir -p "$LOGDIR"

start_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd"
  if have_systemd; then
    systemctl start docker
  else
    nohup dockerd >"$LOGDIR/dockerd.log" 2>&1 &
  fi
  wait_for 60 "dockerd (log: $LOGDIR/dockerd.log)" docker info
}

# Debian's udev rule makes /dev/kvm root:kvm 0660; where no udev runs (a
# container, a CI sandbox) it stays root-only.  libvirt then probes QEMU with
# KVM as root but finds KVM unusable for its qemu user, and throws its
# capability cache away on every call (measured: 15-20 s per connection).
fix_kvm_device() {
  if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
}

start_libvirt() {
  fix_kvm_device
  if have_systemd; then
    systemctl start virtlogd libvirtd
  else
    pgrep -x virtlogd >/dev/null || { log "starting virtlogd"; virtlogd -d; }
    if ! virsh -c qemu:///system version >/dev/null 2>&1; then
      log "starting libvirtd"
      pgrep -x libvirtd >/dev/null || libvirtd -d
    fi
  fi
  wait_for 60 "libvirtd" virsh -c qemu:///system version
}

start_default_network() {
  local v="virsh -c qemu:///system"
  if ! $v net-info default >/dev/null 2>&1; then
    log "defining libvirt network 'default'"
    $v net-define /usr/share/libvirt/networks/default.xml >/dev/null
  fi
  # (captured first: grep -q closing the pipe early would fail it under pipefail)
  local info
  info="$($v net-info default)"
  if ! grep -Eq '^Active:\s+yes' <<<"$info"; then
    log "starting libvirt network 'default'"
    $v net-start default >/dev/null
  fi
  $v net-autostart default >/dev/null 2>&1 || true
}

start_docker
start_libvirt
start_default_network
log "daemons up: dockerd $(docker info --format '{{.ServerVersion}}'), libvirt $(virsh -c qemu:///system version --daemon | awk '/daemon/ {print $NF}')"
