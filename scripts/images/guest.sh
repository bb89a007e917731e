#!/usr/bin/env bash
# guest.sh BASE_TAR OUTDIR "PACKAGES": the lab's bootable guest. OUTDIR gets
# vmlinuz, initrd.img (direct kernel boot, cmdline in OUTDIR/cmdline) and
# rootfs.qcow2, a whole-disk ext4 (no partition table) for /dev/vda, and
# packages.txt (every installed package and its version, one a line).
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
base_tar=$1 out=$2 packages=$3
CMDLINE="root=/dev/vda console=ttyS0"
DISK_SIZE=4G

mkdir -p "$out"
rootfs="$out/tree"
mkdir "$rootfs"
unmount() {
  local m
  # Deepest first; skip the ones never made.
  for m in var/cache/apt/archives dev/pts dev sys proc; do
    if mountpoint -q "$rootfs/$m"; then umount "$rootfs/$m"; fi
  done
}
trap 'unmount; rm -rf "$rootfs" "$out/rootfs.raw"' EXIT
tar --numeric-owner --xattrs -xpf "$base_tar" -C "$rootfs"

cd "$rootfs"
cat /etc/resolv.conf >etc/resolv.conf
mount -t proc proc proc
mount -t sysfs sys sys
# A private /dev, never the host's: package scripts in the chroot (udev's,
# among others) re-own device nodes by the chroot's group ids, and once turned
# the host's /dev/kvm into root:rdma, which made libvirtd re-probe QEMU on every
# connection.
mount -t tmpfs -o mode=0755,nosuid tmpfs dev
for node in "null c 1 3" "zero c 1 5" "full c 1 7" "random c 1 8" "urandom c 1 9" "tty c 5 0"; do
  read -r name kind major minor <<<"$node"
  mknod -m 0666 "dev/$name" "$kind" "$major" "$minor"
done
mkdir -p dev/pts dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts dev/pts
ln -s pts/ptmx dev/ptmx
mkdir -p "$HYPERDOCK_CACHE/debs"
mount --bind "$HYPERDOCK_CACHE/debs" var/cache/apt/archives
# No daemon may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >usr/sbin/policy-rc.d
chmod +x usr/sbin/policy-rc.d
# Listed explicitly so the initrd can mount /dev/vda whatever initramfs-tools guesses.
mkdir -p etc/initramfs-tools
printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >>etc/initramfs-tools/modules

# Before the kernel: initramfs-tools puts fsck.ext4 in the initrd only for a root it finds in fstab.
cat >etc/fstab <<'FSTAB'
/dev/vda  /  ext4  errors=remount-ro  0  1
FSTAB

# The host's environment (but for a proxy) has no business in maintainer scripts.
in_chroot() {
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    ${http_proxy:+http_proxy="$http_proxy"} chroot . "$@"
}
in_chroot apt-get update -qq
# shellcheck disable=SC2086 # one word per package
in_chroot apt-get install -y -qq --no-install-recommends $packages >/dev/null

# docker.io's postinst enabled dockerd for boot, as on any Debian host: fail
# here rather than in a guest where the docker_engine role finds no daemon.
if in_chroot dpkg -s docker.io >/dev/null 2>&1; then
  for unit in multi-user.target.wants/docker.service sockets.target.wants/docker.socket; do
    [ -L "etc/systemd/system/$unit" ] || die "docker.io is installed but $unit is not enabled in the image"
  done
fi
# What the image holds, for people and tests (the rootfs itself is an ext4 in a qcow2).
# shellcheck disable=SC2016 # dpkg-query's format, not a shell expansion
in_chroot dpkg-query -W -f='${db:Status-Status} ${Package} ${Version}\n' | awk '$1 == "installed" {print $2, $3}' >"$out/packages.txt"

cat >etc/network/interfaces <<'NET'
# cloud-init writes interfaces.d/50-cloud-init: DHCP on the first NIC, or the
# seed's network-config.
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
NET
cat >etc/cloud/cloud.cfg.d/90-hyperdock.cfg <<'CFG'
# Only the NoCloud seed ISO (label cidata): no minutes lost probing clouds.
datasource_list: [NoCloud, None]
# The hostname resolves locally, so sudo never waits on DNS for it.
manage_etc_hosts: true
# No locales package (the image is trimmed): C.UTF-8 is built in, and
# generating en_US.UTF-8 would fail cloud-config.service.
locale: false
CFG
# debootstrap writes no /etc/hosts; cloud-init rewrites this one at first boot.
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >etc/hosts
# Host keys are per guest: cloud-init makes them; ssh-keygen -A covers a boot without it.
rm -f etc/ssh/ssh_host_*
mkdir -p etc/systemd/system/ssh.service.d
printf '[Service]\nExecStartPre=/usr/bin/ssh-keygen -A\n' >etc/systemd/system/ssh.service.d/hostkeys.conf

# The initrd must reach an ext4 root on virtio: fail here, not at boot.
kver=$(basename "$(ls -d lib/modules/*)")
initrd_files=$(in_chroot lsinitramfs "/boot/initrd.img-$kver")
for mod in virtio_blk virtio_net virtio_pci ext4; do
  grep -q "/$mod.ko" "lib/modules/$kver/modules.builtin" || grep -q "/$mod.ko" <<<"$initrd_files" \
    || die "initrd for $kver has no $mod (neither built in nor a module in the initrd)"
done
install -m 0644 "boot/vmlinuz-$kver" "$out/vmlinuz"
install -m 0644 "boot/initrd.img-$kver" "$out/initrd.img"

rm -f usr/sbin/policy-rc.d etc/resolv.conf
rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/log/*.log
: >etc/machine-id
cd /
unmount

# ext4 straight from the tree (no loop device, no mount), on a sparse file.
log "guest: the rootfs holds $(du -sm "$rootfs" | cut -f1) MiB, on a $DISK_SIZE disk"
truncate -s "$DISK_SIZE" "$out/rootfs.raw"
mkfs.ext4 -q -F -L rootfs -d "$rootfs" "$out/rootfs.raw"
qemu-img convert -O qcow2 "$out/rootfs.raw" "$out/rootfs.qcow2"
rm -f "$out/rootfs.raw"
chmod 0644 "$out/rootfs.qcow2" "$out/packages.txt"
echo "$CMDLINE" >"$out/cmdline"
echo "$kver" >"$out/kernel-version"
