#!/usr/bin/env bash
# envctl/dubbo-python:3.0 — a Dubbo provider/consumer on Apache Dubbo for Python (triple
# protocol, ZooKeeper registry). Debian bookworm minbase + python3, with apache-dubbo 3.0.0b1
# and kazoo installed from PyPI on the build host (the container needs no network).
#
#   provider (default CMD): python3 /opt/dubbo/app/provider.py   (env contract: README.md)
#   consumer:               python3 /opt/dubbo/app/consumer.py list|call|gateway ...
#
# Idempotent: does nothing when the image exists and was built from these sources (the hash
# in its io.envctl.source-hash label; ENVCTL_REBUILD=1 rebuilds anyway). The installed
# Python packages are cached next to the rootfs, keyed by their pinned versions, so a rebuild
# needs neither debootstrap nor PyPI.
set -euo pipefail
IMAGE=envctl/dubbo-python:3.0
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS

# Exact versions: the image must not change under us when PyPI does.
PY_PACKAGES=(apache-dubbo==3.0.0b1 kazoo==2.11.0 h2==4.4.1 hpack==4.2.0 hyperframe==6.1.0
    psutil==7.2.2 uvloop==0.23.0)
# Bookworm's python3 is 3.11: wheels are chosen for it, not for the build host's Python.
PY_TARGET=(--python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none
    --platform "manylinux2014_$(uname -m)" --only-binary=:all:)

# python_site -> prints a cached tarball of /opt/dubbo/site with PY_PACKAGES installed.
python_site() {
    local key tarball work
    key=$(printf '%s\n' "${PY_PACKAGES[@]}" "${PY_TARGET[@]}" | sha256sum | cut -c1-12)
    tarball="$CACHE/dubbo-python-site-$key.tar"
    if [[ ! -s $tarball ]]; then
        python3 -m pip --version >/dev/null 2>&1 || need_tool pip3 python3-pip
        work=$(mktemp -d "$CACHE/site.XXXXXX")
        WORK_DIRS+=("$work")
        log "pip: ${PY_PACKAGES[*]}"
        export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
        # apache-dubbo is published as an sdist only: build its (pure-Python) wheel first.
        python3 -m pip wheel --quiet --no-deps --pre --wheel-dir "$work/wheels" "${PY_PACKAGES[0]}"
        python3 -m pip install --quiet --target "$work/site" "${PY_TARGET[@]}" \
            --find-links "$work/wheels" --pre "${PY_PACKAGES[@]}"
        rm -rf "$work/site/bin"
        tar --numeric-owner --owner=0 --group=0 -C "$work/site" -cf "$tarball.part" .
        mv "$tarball.part" "$tarball"
    fi
    printf '%s\n' "$tarball"
}

site=$(python_site)
customize() {
    local root=$1
    mkdir -p "$root/opt/dubbo/site"
    tar --numeric-owner -C "$root/opt/dubbo/site" -xf "$site"
    cp -r "$HERE/app" "$root/opt/dubbo/app"
    rm -rf "$root/opt/dubbo/app/__pycache__"
}
debian_image "$IMAGE" python3 customize \
    -c 'ENV PYTHONPATH=/opt/dubbo/app:/opt/dubbo/site' \
    -c 'ENV PYTHONUNBUFFERED=1' \
    -c 'ENV PYTHONDONTWRITEBYTECODE=1' \
    -c 'WORKDIR /opt/dubbo/app' \
    -c 'EXPOSE 20880' \
    -c 'CMD ["python3", "/opt/dubbo/app/provider.py"]'

# Verify: the contract's unit tests, then a real triple call from a consumer to a provider
# in the same throwaway container (no registry).
fail() {
    log "verification failed: $*"
    [[ -n ${id:-} ]] && docker logs --tail 20 "$id" >&2
    # Other users of a shared engine keep the image they had; the next build tries again
    # (the old image's source hash still differs).
    if [[ -n ${PREVIOUS_ID:-} ]]; then
        docker tag "$PREVIOUS_ID" "$IMAGE" && log "kept the previous $IMAGE"
    else
        docker image rm "$IMAGE" >/dev/null 2>&1 || true
    fi
    exit 1
}
log "verifying: contract tests, then a triple call"
# Every app/test_*.py (contract, responder, routing, attachments).
docker run --rm --label "$VERIFY_LABEL" "$IMAGE" python3 -m unittest discover -q -p 'test_*.py' >/dev/null 2>&1 ||
    fail "unit tests (docker run --rm $IMAGE python3 -m unittest discover -p 'test_*.py')"
id=$(verify_run "$IMAGE" -e DUBBO_SERVICE_INTERFACE=org.envctl.Verify -e DUBBO_REGISTRY_ADDRESS=N/A)
wait_for "the provider on 20880" 30 docker exec "$id" python3 -c \
    'import socket; socket.create_connection(("127.0.0.1", 20880), 1)' || fail "not listening"
reply=$(docker exec "$id" python3 consumer.py call --timeout 30 \
    --interface org.envctl.Verify --address 127.0.0.1:20880 --data build 2>&1) ||
    fail "consumer call: $reply"
grep -q '"message": "Hello, build"' <<<"$reply" || fail "unexpected reply: $reply"
finish "$IMAGE" "$start"
