#!/usr/bin/env bash
# busybox.sh IMAGE: docker-import a tiny image holding Debian's static busybox.
# Used by tests and examples that need a container which starts in milliseconds
# and never needs a registry: sleep, sh -c, httpd -f, wget, cat.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
image=$1

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
cd "$rootfs"
mkdir -p bin etc root proc sys dev usr www
install -d -m 1777 tmp
cp /bin/busybox bin/busybox
# Every applet is a symlink in /bin; the other PATH directories point there,
# so both `sleep` and `/usr/bin/env` resolve.
for applet in $(bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "bin/$applet"
done
ln -s ../bin usr/bin
ln -s ../bin usr/sbin
ln -s bin sbin
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
printf 'root:x:0:\nnobody:x:65534:\n' >etc/group
# Docker bind-mounts its own hosts/resolv.conf; these only give sane defaults.
printf '127.0.0.1 localhost\n' >etc/hosts

tar --numeric-owner --owner=0 --group=0 -c . |
  docker import \
    --change 'CMD ["sh"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "hyperdock busybox $(bin/busybox | head -1)" \
    - "$image" >/dev/null
