#!/usr/bin/env bash
# molecule.sh BASE_TAR IMAGE: the Molecule platform image, systemd as PID 1.
# Run it as roles' tests do:
#   docker run -d --cap-add SYS_ADMIN --tmpfs /run --tmpfs /run/lock \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro IMAGE
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
base_tar=$1 image=$2

rootfs=$(mktemp -d "$HYPERDOCK_CACHE/base/.molecule-XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
chmod 0755 "$rootfs"  # mktemp makes it 0700; it becomes the image's /
tar --numeric-owner --xattrs -xpf "$base_tar" -C "$rootfs"
cd "$rootfs"
# Units that manage hardware or the console have nothing to do in a container
# and would only turn `systemctl is-system-running` to degraded.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
  systemd-remount-fs.service; do
  ln -sf /dev/null "etc/systemd/system/$unit"
done

# Imported under a temporary tag: IMAGE exists only once it is complete.
imported="hyperdock-build/molecule-import:$(date +%s)-$$"
tar --numeric-owner --xattrs -c . |
  docker import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=docker' \
    --message "hyperdock debian12 systemd (molecule)" \
    - "$imported" >/dev/null
# `docker import --change` does not accept STOPSIGNAL: one Dockerfile line adds it
# (the legacy builder takes FROM from the local store, never from a registry).
trap 'rm -rf "$rootfs"; docker rmi "$imported" >/dev/null 2>&1 || true' EXIT
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$imported" >"$rootfs.Dockerfile"
out=$(DOCKER_BUILDKIT=0 docker build -q -t "$image" - <"$rootfs.Dockerfile" 2>&1) || die "docker build: $out"
rm -f "$rootfs.Dockerfile"
