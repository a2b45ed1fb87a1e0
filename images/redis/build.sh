#!/usr/bin/env bash
# envctl/redis:7 — Debian bookworm's redis-server 7.0, listening on all interfaces.
set -euo pipefail
IMAGE=envctl/redis:7
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
customize() { :; }
debian_image "$IMAGE" redis-server customize \
    -c 'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]' \
    -c 'EXPOSE 6379' -c 'WORKDIR /var/lib/redis'
log "verifying: redis-cli PING"
id=$(verify_run "$IMAGE")
wait_for "redis PONG" 30 sh -c "docker exec $id redis-cli PING | grep -q PONG"
finish "$IMAGE" "$start"
