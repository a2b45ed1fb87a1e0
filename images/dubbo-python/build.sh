#!/usr/bin/env bash
# envctl/dubbo-python:3.0 — a Dubbo provider/consumer on Apache Dubbo for Python (triple
# protocol, ZooKeeper registry). Debian bookworm minbase + python3, with apache-dubbo 3.0.0b1
# and kazoo installed from PyPI on the build host (the container needs no network).
#
#   provider (default CMD): python3 /opt/dubbo/app/provider.py   (env contract: app/contract.py)
#   consumer:               python3 /opt/dubbo/app/consumer.py list|call|gateway ...
#
# Idempotent: does nothing when the image exists. The rootfs with Python and the libraries is
# cached under $ENVCTL_IMAGE_CACHE keyed by this script, so changing app/ only re-imports.
set -euo pipefail

IMAGE=envctl/dubbo-python:3.0
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${ENVCTL_IMAGE_CACHE:-/var/cache/envctl-images}
MIRROR=${ENVCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Exact versions: the image must not change under us when PyPI does.
PY_PACKAGES=(apache-dubbo==3.0.0b1 kazoo==2.11.0 h2==4.4.1 hpack==4.2.0 hyperframe==6.1.0
    psutil==7.2.2 uvloop==0.23.0)
# Bookworm's python3 is 3.11: wheels are chosen for it, not for the build host's Python.
PY_TARGET=(--python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none
    --platform "manylinux2014_$(uname -m)" --only-binary=:all:)

log() { printf '[%s] %s\n' "$IMAGE" "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "present, skipping"
    exit 0
fi
start=$SECONDS

need_tool() { # need_tool COMMAND DEBIAN_PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 (provides $1)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The cached rootfs depends only on this recipe (bump RECIPE when the steps below change), so
# editing app/ or the verification does not re-run debootstrap.
RECIPE=1
base_key=$(printf '%s\n' "$RECIPE" bookworm python3 "${PY_PACKAGES[@]}" "${PY_TARGET[@]}" |
    sha256sum | cut -c1-12)
base="$CACHE/dubbo-python-base-$base_key.tar"
if [[ -s $base ]]; then
    log "reusing cached rootfs $base"
else
    need_tool debootstrap debootstrap
    python3 -m pip --version >/dev/null 2>&1 || need_tool pip3 python3-pip
    mkdir -p "$CACHE/debs"
    root="$work/rootfs"
    log "debootstrap bookworm minbase + python3"
    if ! debootstrap --variant=minbase --include=python3 --cache-dir="$CACHE/debs" \
        bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
        tail -n 30 "$work/debootstrap.log" >&2
        exit 1
    fi
    log "pip: ${PY_PACKAGES[*]}"
    # apache-dubbo is published as an sdist only: build its (pure-Python) wheel first.
    PIP_ROOT_USER_ACTION=ignore python3 -m pip wheel --quiet --no-deps --pre --wheel-dir "$work/wheels" "${PY_PACKAGES[0]}"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --target "$root/opt/dubbo/site" "${PY_TARGET[@]}" \
        --find-links "$work/wheels" --pre "${PY_PACKAGES[@]}"
    rm -rf "$root"/opt/dubbo/site/bin
    # Trim what a container never needs.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
        "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
    tar --numeric-owner -C "$root" -cf "$base.part" .
    mv "$base.part" "$base"
fi

log "adding app/ and importing"
cp "$base" "$work/image.tar"
mkdir -p "$work/app/opt/dubbo"
cp -r "$HERE/app" "$work/app/opt/dubbo/app"
rm -rf "$work/app/opt/dubbo/app/__pycache__"
tar --numeric-owner --owner=0 --group=0 -C "$work/app" -rf "$work/image.tar" ./opt/dubbo/app
docker import \
    -c 'ENV PYTHONPATH=/opt/dubbo/app:/opt/dubbo/site' \
    -c 'ENV PYTHONUNBUFFERED=1' \
    -c 'ENV PYTHONDONTWRITEBYTECODE=1' \
    -c 'WORKDIR /opt/dubbo/app' \
    -c 'EXPOSE 20880' \
    -c 'CMD ["python3", "/opt/dubbo/app/provider.py"]' \
    "$work/image.tar" "$IMAGE" >/dev/null

# Verify: the contract's unit tests, then a real triple call from a consumer to a provider
# in the same throwaway container (no registry).
verify=""
cleanup_verify() { [[ -n $verify ]] && docker rm -f "$verify" >/dev/null 2>&1 || true; }
trap 'cleanup_verify; rm -rf "$work"' EXIT
fail() {
    log "verification failed: $*"
    [[ -n $verify ]] && docker logs "$verify" 2>&1 | tail -n 20 >&2
    docker rmi "$IMAGE" >/dev/null 2>&1 || true
    exit 1
}
docker run --rm "$IMAGE" python3 -m unittest -q test_contract >/dev/null 2>&1 ||
    fail "contract unit tests (docker run --rm $IMAGE python3 -m unittest test_contract)"
verify=$(docker run -d --label io.envctl.verify=1 -e DUBBO_SERVICE_INTERFACE=org.envctl.Verify \
    -e DUBBO_REGISTRY_ADDRESS=N/A "$IMAGE")
deadline=$((SECONDS + 30))
until docker exec "$verify" python3 -c \
    'import socket; socket.create_connection(("127.0.0.1", 20880), 1)' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "the provider did not listen on 20880 within 30s"
    sleep 0.3
done
reply=$(docker exec "$verify" python3 consumer.py call --timeout 30 \
    --interface org.envctl.Verify --address 127.0.0.1:20880 --data build 2>&1) ||
    fail "consumer call: $reply"
grep -q '"message": "Hello, build"' <<<"$reply" || fail "unexpected reply: $reply"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "built $IMAGE in $((SECONDS - start))s ($((size / 1000000)) MB), verified"
