#!/usr/bin/env bash
# lab-base.sh BASE_TAR IMAGE: the lab's service base image, one layer. The
# shared debootstrap rootfs less what only a booted system needs (systemd,
# dbus, sudo and the libraries only they use), imported with `docker import`.
# The db and web images are built FROM it, so a guest pulls this layer once.
# shellcheck source=SCRIPTDIR/../../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib.sh"
base_tar=$1 image=$2
# Marked manual so that autoremove keeps them (everything else the base holds
# is Essential or required, which apt never removes).
KEEP="python3 ca-certificates iproute2 procps"
PURGE="systemd systemd-sysv dbus sudo"

rootfs=$(mktemp -d "$HYPERDOCK_CACHE/base/.lab-base-XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
chmod 0755 "$rootfs"  # mktemp makes it 0700; it becomes the image's /
tar --numeric-owner --xattrs -xpf "$base_tar" -C "$rootfs"
cd "$rootfs"

# No daemon starts while a package is installed, here or in a later
# `RUN apt-get install` (Docker's own Debian images ship the same file).
printf '#!/bin/sh\nexit 101\n' >usr/sbin/policy-rc.d
chmod 0755 usr/sbin/policy-rc.d
# sudo's prerm refuses to leave a system without a root password unless told.
# No /proc, /dev or network: removing packages needs none of them.
# shellcheck disable=SC2086 # one word per package
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive SUDO_FORCE_REMOVE=yes \
  chroot . sh -ec "apt-mark auto \$(apt-mark showmanual) >/dev/null
    apt-mark manual $KEEP >/dev/null
    apt-get purge -y -qq --auto-remove $PURGE" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; die "lab-base: removing $PURGE failed"; }
rm -f "$rootfs.log"
for pkg in $PURGE; do
  if chroot . dpkg -s "$pkg" >/dev/null 2>&1; then die "lab-base: $pkg is still installed"; fi
done
rm -rf var/run/dbus var/lib/apt/lists/* var/cache/apt/*.bin var/cache/debconf/*-old var/lib/dpkg/*-old var/log/*.log
# Recommends stay out of later installs too; every RUN passes --no-install-recommends anyway.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >etc/apt/apt.conf.d/90-hyperdock-norecommends

# `docker import` tags IMAGE only once the layer is complete. Its tag is the
# recipe key (build.sh's docker_image), recorded in the labels too.
key=${image##*:}
tar --numeric-owner --xattrs -c . |
  docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'LABEL org.opencontainers.image.title=hyperdock/lab-base' \
    --change "LABEL org.opencontainers.image.description=\"Debian 12 without systemd: the lab service images' shared base\"" \
    --change "LABEL org.opencontainers.image.version=$key org.opencontainers.image.revision=$key" \
    --change 'LABEL org.opencontainers.image.source=https://github.com/hyperdock/platform' \
    --message "hyperdock lab service base (Debian bookworm, no systemd)" \
    - "$image" >/dev/null
