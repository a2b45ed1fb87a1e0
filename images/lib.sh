# Shared helpers for images/<name>/build.sh. Sourced, not executed.
#
# Debian-based images are a debootstrap --variant=minbase rootfs with a few packages plus our
# own files, imported with `docker import`. Two caches keep CI fast:
#   $CACHE/debs           .deb files shared by every debootstrap run (download once)
#   $CACHE/<name>-<key>.tar  the finished rootfs of one image, keyed by a hash of its recipe,
#                            so re-creating a deleted image is a plain import.
set -euo pipefail

CACHE=${ENVCTL_IMAGE_CACHE:-/var/cache/envctl-images}
MIRROR=${ENVCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

log() { printf '[%s] %s\n' "${IMAGE:-images}" "$*" >&2; }

# True when the image exists locally; build scripts exit early then (idempotent).
image_present() { docker image inspect "$1" >/dev/null 2>&1; }

need_tool() { # need_tool COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 (provides $1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}

# debian_rootfs NAME KEY "PKG,PKG" CUSTOMIZE_FN -> prints the path of a cached rootfs tarball.
# CUSTOMIZE_FN is called with the rootfs directory to add config files and scripts.
debian_rootfs() {
    local name=$1 key=$2 pkgs=$3 customize=$4
    local tarball="$CACHE/$name-$key.tar"
    if [[ -s $tarball ]]; then
        log "reusing cached rootfs $tarball"
        printf '%s\n' "$tarball"
        return 0
    fi
    need_tool debootstrap debootstrap
    mkdir -p "$CACHE/debs"
    local dir
    dir=$(mktemp -d "$CACHE/rootfs-$name.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$dir'" RETURN
    log "debootstrap $SUITE minbase + $pkgs"
    if ! debootstrap --variant=minbase --include="$pkgs" --cache-dir="$CACHE/debs" \
        "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1; then
        tail -n 30 "$dir.log" >&2
        log "debootstrap failed (full log: $dir.log)"
        return 1
    fi
    rm -f "$dir.log"
    "$customize" "$dir"
    # Trim what a container never needs.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
        "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/* \
        "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/tmp/*
    tar --numeric-owner -C "$dir" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    printf '%s\n' "$tarball"
}

# recipe_key FILE... -> short hash of what defines a rootfs: the image's build.sh and the
# debootstrap step (not the verification helpers, so editing those does not force a rebuild).
recipe_key() { { cat "$@"; declare -f debian_rootfs; echo "$SUITE"; } | sha256sum | cut -c1-12; }

# wait_for DESCRIPTION SECONDS COMMAND... : polls COMMAND until it succeeds or the deadline passes.
wait_for() {
    local what=$1 secs=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${secs}s waiting for $what"
            return 1
        fi
        sleep 0.5
    done
}

# A throwaway container for verification, removed on exit.
VERIFY_CONTAINERS=()
verify_cleanup() { ((${#VERIFY_CONTAINERS[@]})) && docker rm -f -v "${VERIFY_CONTAINERS[@]}" >/dev/null 2>&1 || true; }
trap verify_cleanup EXIT
verify_run() { # verify_run IMAGE [docker run args...] -> container id
    local image=$1
    shift
    local id
    id=$(docker run -d --label io.envctl.verify=1 "$@" "$image")
    VERIFY_CONTAINERS+=("$id")
    printf '%s\n' "$id"
}

# finish IMAGE START_SECONDS: reports the image size and the time the build took.
finish() {
    local size
    size=$(docker image inspect -f '{{.Size}}' "$1")
    log "built $1 in $((SECONDS - $2))s ($((size / 1000000)) MB), verified"
}
