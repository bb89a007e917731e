#!/usr/bin/env bash
# One-command set-up of a fresh Debian 12 machine (as root), idempotent:
#   1. the Debian packages the collection, its tests and its lab need;
#   2. the daemons (dockerd, virtlogd, libvirtd, the `default` network);
#   3. .venv from requirements-dev.txt, rebuilt only when that file changes;
#   4. the working tree linked as the collection `hyperdock.platform`;
#   5. the base images (Molecule's systemd image, the lab's guest image),
#      built locally and cached by the hash of their recipe.
# Pass --no-images to skip step 5 (lint and unit tests do not need them).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root "scripts/setup.sh"

BUILD_IMAGES=1
for arg in "$@"; do
  case "$arg" in
    --no-images) BUILD_IMAGES=0 ;;
    *) die "unknown option $arg (accepted: --no-images)" ;;
  esac
done

APT_PACKAGES=(
  # Docker engine and the libvirt/QEMU hypervisor
  docker.io iptables libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu
  qemu-system-x86 qemu-utils dnsmasq-base ovmf
  # libvirt-python builds against these; virt-xml-validate needs xmllint
  libvirt-dev pkg-config libxml2-utils gcc python3-dev
  # image builders: rootfs, ext4 disk, cloud-init seed ISO
  debootstrap e2fsprogs xorriso genisoimage
  # lab, map and tests
  openssh-client rsync git make graphviz iproute2 procps
  chromium fonts-dejavu-core
)

install_packages() {
  local missing=()
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: all ${#APT_PACKAGES[@]} present"
    return
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_venv() {
  local stamp key python
  python="${PYTHON:-python3}"
  key="$(sha256sum <"$ROOT/requirements-dev.txt" | cut -c1-16)-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  stamp="$VENV/.hyperdock-stamp"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    log "venv: up to date ($VENV)"
    return
  fi
  log "building venv $VENV ($python, requirements-dev.txt)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -r "$ROOT/requirements-dev.txt" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c 'import ansible, molecule, docker, libvirt, testinfra' \
    || die "venv is incomplete: see the pip output above"
  echo "$key" >"$stamp"
}

link_collection() {
  local dir="$ROOT/.collections/ansible_collections/hyperdock"
  mkdir -p "$dir"
  ln -sfn ../../.. "$dir/platform"
  [ -f "$dir/platform/galaxy.yml" ] || die "collection link $dir/platform does not resolve to the working tree"
  log "collection: hyperdock.platform -> $ROOT"
}

install_packages
"$ROOT/scripts/daemons.sh"
setup_venv
link_collection
if [ "$BUILD_IMAGES" = 1 ]; then
  "$ROOT/scripts/images/build.sh" all
fi
log "setup complete"
