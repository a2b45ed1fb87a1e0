# Shared helpers for images/<name>/build.sh. Sourced, not executed.
#
# Debian-based images are a debootstrap --variant=minbase rootfs with a few packages plus our
# own files, imported with `docker import`. Two caches keep CI fast:
#   $CACHE/debs           .deb files shared by every debootstrap run (download once)
#   $CACHE/bookworm-<key>.tar  a trimmed rootfs per package set, keyed by a hash of the
#                              package list, so re-creating a deleted image is unpack+import.
set -euo pipefail

CACHE=${ENVCTL_IMAGE_CACHE:-/var/cache/envctl-images}
SUITE=bookworm

# apt_mirror: the Debian archive this machine's apt already uses (the first `deb` source whose
# first suite is not a security, updates or backports one), from /etc/apt/sources.list.d/*.sources (deb822 `URIs:`)
# or /etc/apt/sources.list (`deb` lines). No mirror host is written in the project: a machine
# without one must set ENVCTL_DEBIAN_MIRROR.
apt_mirror() {
    local files=()
    shopt -s nullglob
    files=(/etc/apt/sources.list.d/*.sources)
    shopt -u nullglob
    if ((${#files[@]})); then
        # deb822: stanzas separated by blank lines; the first matching stanza's first URI.
        awk '
            function flush() {
                split(suites, first, " ")
                if (types ~ /(^| )deb( |$)/ && uri != "" && first[1] !~ /-(security|updates|backports)$/ && !done) { print uri; done = 1 }
                types = ""; uri = ""; suites = ""
            }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]*#/ { next }
            tolower($1) == "types:" { types = substr($0, index($0, ":") + 2) }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { suites = substr($0, index($0, ":") + 2) }
            END { flush() }
        ' "${files[@]}" | head -n 1 | grep . && return 0
    fi
    if [[ -r /etc/apt/sources.list ]]; then
        # `deb [options] URI SUITE COMPONENTS...`
        awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) !~ /-(security|updates|backports)$/) { print $i; exit }
            }' /etc/apt/sources.list | grep . && return 0
    fi
    return 1
}

if [[ -n ${ENVCTL_DEBIAN_MIRROR:-} ]]; then
    MIRROR=$ENVCTL_DEBIAN_MIRROR
elif ! MIRROR=$(apt_mirror); then
    MIRROR=
fi

log() { printf '[%s] %s\n' "${IMAGE:-images}" "$*" >&2; }

# The image's sources: the directory of the build.sh that sourced this file, and this file.
IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[1]:-$0}")" && pwd)
SOURCE_LABEL=io.envctl.source-hash

# source_hash: a hash of the image's sources (paths relative to images/, and contents; docs
# and Python caches left out, they change nothing in the image). Stored on the image as
# $SOURCE_LABEL, so an image built from older sources is told apart from a current one.
source_hash() {
    (cd "$IMAGE_DIR/.." &&
        find "$(basename "$IMAGE_DIR")" lib.sh -type f ! -name '*.md' ! -path '*/__pycache__/*' -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# True when the image exists locally and was built from these sources; build scripts exit
# early then (idempotent). An image from other sources (or from before the label existed)
# is rebuilt: a machine keeping an old envctl/dubbo-python would otherwise run old app code.
# ENVCTL_REBUILD=1 rebuilds anyway; the import moves the tag, so users never see it missing.
image_present() {
    PREVIOUS_ID=$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null) || PREVIOUS_ID=
    SOURCE_HASH=$(source_hash)
    [[ -z ${ENVCTL_REBUILD:-} && -n $PREVIOUS_ID ]] || return 1
    local built
    built=$(docker image inspect -f "{{index .Config.Labels \"$SOURCE_LABEL\"}}" "$1" 2>/dev/null) || built=
    [[ $built == "$SOURCE_HASH" ]] && return 0
    log "sources changed (image: ${built:-no $SOURCE_LABEL}, sources: $SOURCE_HASH): rebuilding"
    return 1
}

# The `docker import -c` change that labels an image with its source hash (after image_present).
source_label() { printf 'LABEL %s=%s' "$SOURCE_LABEL" "$SOURCE_HASH"; }

need_tool() { # need_tool COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 (provides $1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}

# debian_rootfs "PKG,PKG" -> prints the path of a cached, trimmed rootfs tarball with these
# packages. Keyed by the package list and this recipe, so images sharing a package set share it.
debian_rootfs() {
    local pkgs=$1
    local key
    key=$({ echo "$SUITE $pkgs"; declare -f debian_rootfs; } | sha256sum | cut -c1-12)
    local tarball="$CACHE/$SUITE-$key.tar"
    if [[ -s $tarball ]]; then
        log "reusing cached rootfs $tarball ($pkgs)"
        printf '%s\n' "$tarball"
        return 0
    fi
    need_tool debootstrap debootstrap
    mkdir -p "$CACHE/debs"
    # One debootstrap at a time: parallel builds would race on the shared .deb cache.
    local lock
    exec {lock}>"$CACHE/debootstrap.lock"
    flock "$lock"
    local dir
    dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    log "debootstrap $SUITE minbase + $pkgs"
    if ! debootstrap --variant=minbase --include="$pkgs" --cache-dir="$CACHE/debs" \
        "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1; then
        tail -n 30 "$dir.log" >&2
        log "debootstrap failed (full log: $dir.log)"
        rm -rf "$dir"
        return 1
    fi
    rm -f "$dir.log"
    # Trim what a container never needs.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
        "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/* \
        "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/tmp/*
    tar --numeric-owner -C "$dir" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$dir"
    exec {lock}>&-
    printf '%s\n' "$tarball"
}

# debian_image IMAGE "PKG,PKG" CUSTOMIZE_FN [docker import -c CHANGE]...
# Unpacks the cached rootfs, lets CUSTOMIZE_FN add files (called with the directory), imports it.
# Customising after the cache keeps recipe tweaks cheap: no new debootstrap.
debian_image() {
    local image=$1 pkgs=$2 customize=$3
    shift 3
    local tarball dir
    # Checked here, not in debian_rootfs: its body keys the rootfs cache.
    [[ -n $MIRROR ]] ||
        log "no Debian mirror in this machine's apt sources: set ENVCTL_DEBIAN_MIRROR unless the rootfs is cached"
    tarball=$(debian_rootfs "$pkgs")
    dir=$(mktemp -d "$CACHE/image.XXXXXX")
    WORK_DIRS+=("$dir")
    tar --numeric-owner -C "$dir" -xf "$tarball"
    "$customize" "$dir"
    tar --numeric-owner -C "$dir" -c . | docker import -c "$(source_label)" "$@" - "$image" >/dev/null
    IMPORTED=1
    rm -rf "$dir"
}

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

# Throwaway containers for verification carry this build's label and are removed on exit
# (by label: verify_run runs in a command substitution, a subshell).
VERIFY_LABEL="io.envctl.verify=$$"
WORK_DIRS=()
verify_cleanup() {
    local status=${1:-$?}
    # A build that imported its image and then failed (verification, or anything after the
    # import) must not leave it tagged: its label says "current", so the next run would skip
    # it. The engine's users keep the image they had, or none.
    if ((status != 0)) && [[ -n ${IMAGE:-} && ${IMPORTED:-} == 1 ]]; then
        if [[ -n ${PREVIOUS_ID:-} ]]; then
            local unverified
            unverified=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null) || unverified=
            docker tag "$PREVIOUS_ID" "$IMAGE" >/dev/null 2>&1 && log "kept the previous $IMAGE"
            # Untagged now; gone unless something still uses it.
            [[ -z $unverified || $unverified == "$PREVIOUS_ID" ]] ||
                docker image rm "$unverified" >/dev/null 2>&1 || true
        else
            docker image rm "$IMAGE" >/dev/null 2>&1 && log "removed the unverified $IMAGE"
        fi
    fi
    ((${#WORK_DIRS[@]} == 0)) || rm -rf "${WORK_DIRS[@]}"
    local ids
    ids=$(docker ps -aq --filter "label=$VERIFY_LABEL" 2>/dev/null) || return 0
    [[ -z $ids ]] || docker rm -f -v $ids >/dev/null 2>&1 || true
}
trap verify_cleanup EXIT
verify_run() { # verify_run IMAGE [docker run args...] -> container id
    local image=$1
    shift
    docker run -d --label "$VERIFY_LABEL" "$@" "$image"
}

# finish IMAGE START_SECONDS: reports the image size and the time the build took.
finish() {
    IMPORTED=  # verified: from here on a failure keeps the new image
    local size
    size=$(docker image inspect -f '{{.Size}}' "$1")
    log "built $1 in $((SECONDS - $2))s ($((size / 1000000)) MB), verified"
    # A forced rebuild leaves the old image untagged; drop it unless a container still uses it.
    if [[ -n ${PREVIOUS_ID:-} && $PREVIOUS_ID != "$(docker image inspect -f '{{.Id}}' "$1")" ]]; then
        docker image rm "$PREVIOUS_ID" >/dev/null 2>&1 || true
    fi
}
