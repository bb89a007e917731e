#!/usr/bin/env bash
# base.sh OUT.tar "PACKAGES": debootstrap a minimal bookworm with PACKAGES and
# write it as a tarball. Docs, man pages and locales are dropped now and kept
# out of later apt-get installs, while apt itself stays usable.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
out=$1 packages=$2

rootfs=$(mktemp -d "$HYPERDOCK_CACHE/base/.rootfs-XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
chmod 0755 "$rootfs"  # mktemp makes it 0700; it becomes the image's /
mkdir -p "$HYPERDOCK_CACHE/debs"
# --cache-dir keeps the .debs between builds: a recipe change costs no download.
# A clean environment (but for a proxy): the host's variables must not reach maintainer scripts.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
  ${http_proxy:+http_proxy="$http_proxy"} \
  debootstrap --variant=minbase --cache-dir="$HYPERDOCK_CACHE/debs" \
  --include="${packages// /,}" bookworm "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed (log: $rootfs.log)"; }
rm -f "$rootfs.log"

cd "$rootfs"
cat >etc/dpkg/dpkg.cfg.d/01-hyperdock-nodoc <<'CFG'
# Images stay small: no docs, man pages or translations (copyrights are kept).
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
CFG
find usr/share/doc -type f ! -name copyright -delete
find usr/share/doc -type d -empty -delete
rm -rf usr/share/man/* usr/share/info/* usr/share/lintian/*
find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# Updates and security, so that roles installing packages get fixed versions.
cat >etc/apt/sources.list <<SRC
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
# No apt lists or .debs in the image: users run apt-get update first, as on Debian's own images.
rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/log/*.log
# Each container or guest gets its own identity at first boot.
: >etc/machine-id
rm -f var/lib/dbus/machine-id etc/resolv.conf
echo debian >etc/hostname

tar --numeric-owner --xattrs -cf "$out" .
