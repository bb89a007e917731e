#!/usr/bin/env bash
# Build (or reuse) the base images:
#   busybox   Docker image hyperdock/busybox:latest         (tiny test containers)
#   molecule  Docker image hyperdock/debian12-systemd:latest (Molecule platform)
#   guest     $HYPERDOCK_CACHE/guest/current/{vmlinuz,initrd.img,rootfs.qcow2}
#   services  Docker images the lab runs in its guests, all on one base layer:
#             hyperdock/lab-base:<key> (the base rootfs without systemd),
#             hyperdock/lab-db:1 (MariaDB), hyperdock/lab-web:1 and :2 (web app)
#   all       the four above
# Every artefact is keyed by a hash of its recipe (the recipe script, its
# package list and the key of what it is built from), so an unchanged recipe
# is reused, and a changed one is rebuilt. Artefacts are built under a temp
# name and renamed (or tagged) last: a half-built one is never mistaken for done.
# Overrides: MOLECULE_IMAGE=ref skips the molecule image (the user brings one);
# DEBIAN_MIRROR picks the mirror debootstrap and apt use.
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_root "scripts/images/build.sh"

HERE="$ROOT/scripts/images"
export DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export DEBIAN_FRONTEND=noninteractive
BUSYBOX_IMAGE=hyperdock/busybox
MOLECULE_IMAGE_NAME=hyperdock/debian12-systemd
LAB_BASE_IMAGE=hyperdock/lab-base
LAB_DB_IMAGE=hyperdock/lab-db
LAB_WEB_IMAGE=hyperdock/lab-web
LAB_DB_VERSION=1
# Both are built: the lab rolls the web service from one to the other.
LAB_WEB_VERSIONS="1 2"

usage() { die "usage: build.sh busybox|molecule|guest|services|all (got: ${*:-nothing})"; }

# Install the Debian packages a recipe needs on this machine, only if missing.
need_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing build dependencies: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# recipe_key ARG...: 12 hex digits over the ARGs, each a file (its name and
# contents) or a plain string (a parent key, a tool version, the mirror).
recipe_key() {
  local f
  {
    for f in "$@"; do
      if [ -f "$f" ]; then printf '%s\n' "${f#"$HERE"/}"; cat "$f"; else printf '%s\n' "$f"; fi
    done
  } | sha256sum | cut -c1-12
}

# Packages from a list file: one a line, '#' comments allowed.
packages() { sed 's/#.*//' "$HERE/packages/$1.txt" | xargs; }

# The shared debootstrap rootfs (python3, systemd, sudo, apt): a tarball both
# the molecule and the guest image start from, so debootstrap runs once.
base_key() { recipe_key "$HERE/base.sh" "$HERE/packages/base.txt" "mirror $DEBIAN_MIRROR"; }
build_base() {
  local key tar
  key=$(base_key)
  tar="$HYPERDOCK_CACHE/base/$key.tar"
  if [ -f "$tar" ]; then
    log "base rootfs: reusing cache $tar"
  else
    need_packages debootstrap
    log "base rootfs: building $tar (debootstrap bookworm, a few minutes)"
    mkdir -p "$HYPERDOCK_CACHE/base"
    bash "$HERE/base.sh" "$tar.partial" "$(packages base)"
    mv -f "$tar.partial" "$tar"
    # Older bases are superseded; keep the cache from growing without bound.
    find "$HYPERDOCK_CACHE/base" -maxdepth 1 -name '*.tar' ! -name "$key.tar" -delete
  fi
  BASE_TAR=$tar
}

# docker_image REF KEY BUILDER ARGS...: REF is NAME (keyed tag NAME:KEY, alias
# NAME:latest) or NAME:VERSION (keyed tag NAME:VERSION-KEY, alias NAME:VERSION).
# Reuse the keyed tag if present, else build it (BUILDER ARGS... KEYED_REF, which
# tags it last), then point the alias at it.
docker_image() {
  local ref=$1 key=$2; shift 2
  local name=${ref%%:*} version=""
  if [[ $ref == *:* ]]; then version=${ref#*:}; fi
  local prefix=${version:+$version-}
  local keyed="$name:$prefix$key" alias="$name:${version:-latest}"
  if docker image inspect "$keyed" >/dev/null 2>&1; then
    log "$alias: reusing cached image $keyed"
  else
    log "$alias: building $keyed"
    "$@" "$keyed"
  fi
  docker tag "$keyed" "$alias"
  # Superseded keys only take space; an image a container still uses stays.
  local old
  for old in $(docker images --format '{{.Tag}}' "$name"); do
    if [[ $old == "$prefix"* && ${old#"$prefix"} =~ ^[0-9a-f]{12}$ && $old != "$prefix$key" ]]; then
      docker rmi "$name:$old" >/dev/null 2>&1 || true
    fi
  done
}

build_busybox() {
  need_packages busybox-static
  local key
  key=$(recipe_key "$HERE/busybox.sh" "busybox-static $(dpkg-query -W -f='${Version}' busybox-static)")
  docker_image "$BUSYBOX_IMAGE" "$key" bash "$HERE/busybox.sh"
}

build_molecule() {
  if [ -n "${MOLECULE_IMAGE:-}" ]; then
    log "molecule: MOLECULE_IMAGE=$MOLECULE_IMAGE is set; not building $MOLECULE_IMAGE_NAME"
    return
  fi
  local key
  key=$(recipe_key "$HERE/molecule.sh" "base $(base_key)")
  if ! docker image inspect "$MOLECULE_IMAGE_NAME:$key" >/dev/null 2>&1; then build_base; fi
  docker_image "$MOLECULE_IMAGE_NAME" "$key" bash "$HERE/molecule.sh" "${BASE_TAR:-}"
}

build_guest() {
  local key dir
  key=$(recipe_key "$HERE/guest.sh" "$HERE/packages/guest.txt" "base $(base_key)")
  dir="$HYPERDOCK_CACHE/guest"
  if [ -f "$dir/$key/rootfs.qcow2" ]; then
    log "guest: reusing cache $dir/$key"
  else
    build_base
    need_packages e2fsprogs qemu-utils
    log "guest: building $dir/$key (kernel, cloud-init, ext4 -> qcow2)"
    mkdir -p "$dir"
    # A killed build may have left its chroot mounts behind: never rm -rf through them.
    if grep -q " $dir/.partial-" /proc/self/mounts; then
      die "mounts left under $dir/.partial-* by an interrupted build; unmount them (see /proc/self/mounts)"
    fi
    rm -rf "$dir"/.partial-*
    bash "$HERE/guest.sh" "$BASE_TAR" "$dir/.partial-$key" "$(packages guest)"
    rm -rf "${dir:?}/$key"
    mv "$dir/.partial-$key" "$dir/$key"
  fi
  ln -sfn "$key" "$dir/current"
  log "guest: $dir/current -> $key"
}

# service_image DIR BASE VERSION IMAGE: docker build services/DIR FROM BASE (an
# image in the local store: the legacy builder never pulls it) as IMAGE, whose
# tag ends in the recipe key; the key and the base go into the labels.
service_image() {
  local dir=$1 base=$2 version=$3 image=$4 out
  out=$(mktemp)
  if ! DOCKER_BUILDKIT=0 docker build --force-rm \
    --build-arg BASE="$base" --build-arg VERSION="$version" \
    --label org.opencontainers.image.revision="${image##*-}" \
    --label org.opencontainers.image.base.name="$base" \
    --label org.opencontainers.image.source=https://github.com/hyperdock/platform \
    -t "$image" "$HERE/services/$dir" >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "docker build of $image (scripts/images/services/$dir) failed"
  fi
  rm -f "$out"
}

# The lab's service images. db and web are built FROM one base image, so a
# guest pulls the base layer once; the web versions differ by their last layer.
build_services() {
  local key base_ref base_id version
  key=$(recipe_key "$HERE/services/lab-base.sh" "base $(base_key)")
  if ! docker image inspect "$LAB_BASE_IMAGE:$key" >/dev/null 2>&1; then build_base; fi
  docker_image "$LAB_BASE_IMAGE" "$key" bash "$HERE/services/lab-base.sh" "${BASE_TAR:-}"
  base_ref="$LAB_BASE_IMAGE:$key"
  # Keyed by the base's image ID, not only its key: a base imported again under
  # the same key (after a `docker rmi`) has a new layer, which db and web must share.
  base_id=$(docker image inspect -f '{{.Id}}' "$base_ref")
  key=$(recipe_key "$HERE"/services/db/* "base $base_id")
  docker_image "$LAB_DB_IMAGE:$LAB_DB_VERSION" "$key" service_image db "$base_ref" "$LAB_DB_VERSION"
  key=$(recipe_key "$HERE"/services/web/* "base $base_id")
  for version in $LAB_WEB_VERSIONS; do
    # Built in turn, the later versions take every layer but the last from the
    # first one's build cache.
    docker_image "$LAB_WEB_IMAGE:$version" "$key" service_image web "$base_ref" "$version"
  done
  # Moving a guest between versions must pull one small layer: a version built
  # without the others' cache (one of them removed by hand) would differ in all.
  local layers shared=""
  for version in $LAB_WEB_VERSIONS; do
    layers=$(docker image inspect -f '{{join .RootFS.Layers " "}}' "$LAB_WEB_IMAGE:$version")
    if [ -n "$shared" ] && [ "${layers% *}" != "$shared" ]; then
      die "$LAB_WEB_IMAGE:$version does not share all but its last layer with the other versions;" \
        "remove them (docker rmi $LAB_WEB_IMAGE:{${LAB_WEB_VERSIONS// /,}}-$key) and build again"
    fi
    shared=${layers% *}
  done
}

[ $# -eq 1 ] || usage "$@"
start=$SECONDS
case "$1" in
  busybox) build_busybox ;;
  molecule) build_molecule ;;
  guest) build_guest ;;
  services) build_services ;;
  all) build_busybox; build_molecule; build_guest; build_services ;;
  *) usage "$@" ;;
esac
log "images ($1): done in $((SECONDS - start))s"
