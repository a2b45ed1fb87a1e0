#!/usr/bin/env bash
# envctl/nginx:1.22 — Debian bookworm's nginx 1.22 in the foreground, default page on port 80,
# logs to the container's stdout/stderr.
set -euo pipefail
IMAGE=envctl/nginx:1.22
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
customize() {
    ln -sf /dev/stdout "$1/var/log/nginx/access.log"
    ln -sf /dev/stderr "$1/var/log/nginx/error.log"
}
debian_image "$IMAGE" nginx customize -c 'CMD ["nginx", "-g", "daemon off;"]' -c 'EXPOSE 80'
log "verifying: GET / over a published loopback port"
id=$(verify_run "$IMAGE" -p 127.0.0.1::80)
port=$(docker port "$id" 80/tcp | head -n1 | sed 's/.*://')
wait_for "nginx default page" 30 sh -c "curl -fsS http://127.0.0.1:$port/ | grep -qi nginx"
finish "$IMAGE" "$start"
