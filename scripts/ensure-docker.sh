#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs docker.io from Debian when missing, starts
# dockerd in the background when it is not running, and waits (with a deadline) until it answers.
set -euo pipefail
DEADLINE=${ENVCTL_DOCKER_DEADLINE:-60}
log() { echo "ensure-docker: $*" >&2; }

if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
    if command -v service >/dev/null 2>&1 && service docker start >/dev/null 2>&1 &&
        timeout 10 sh -c 'until docker info >/dev/null 2>&1; do sleep 0.5; done'; then
        log "started dockerd with 'service docker start'"
    elif ! pgrep -x dockerd >/dev/null 2>&1; then
        log "starting dockerd in the background (log: /var/log/dockerd.log)"
        nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    fi
fi
end=$((SECONDS + DEADLINE))
until docker info >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
        log "the Docker engine did not answer within ${DEADLINE}s"
        tail -n 20 /var/log/dockerd.log >&2 2>/dev/null || true
        exit 1
    fi
    sleep 0.5
done
log "engine ready: $(docker version --format 'Engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
