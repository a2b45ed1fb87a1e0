#!/usr/bin/env bash
# envctl/memcached:1.6 — Debian bookworm's memcached 1.6, listening on all interfaces.
set -euo pipefail
IMAGE=envctl/memcached:1.6
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
customize() { :; }
debian_image "$IMAGE" memcached customize \
    -c 'CMD ["memcached", "-u", "memcache", "-l", "0.0.0.0", "-p", "11211", "-m", "64"]' \
    -c 'EXPOSE 11211'
log "verifying: stats over a published loopback port"
id=$(verify_run "$IMAGE" -p 127.0.0.1::11211)
port=$(docker port "$id" 11211/tcp | head -n1 | sed 's/.*://')
# In a subshell: docker-proxy accepts before memcached listens and then drops the
# connection, and the write's SIGPIPE would kill this whole script, silently.
memcached_stats() (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'stats\r\nquit\r\n' >&3
    timeout 5 cat <&3 | grep -q 'STAT version 1.6'
)
wait_for "memcached stats" 30 memcached_stats
finish "$IMAGE" "$start"
