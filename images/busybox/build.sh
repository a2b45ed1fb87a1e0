#!/usr/bin/env bash
# envctl/busybox:1.35 — scratch image with Debian's busybox-static and its applet symlinks.
set -euo pipefail
IMAGE=envctl/busybox:1.35
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
# Only the statically linked build runs in scratch (Debian's `busybox` package is dynamic).
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    log "installing busybox-static"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null
fi
bin=/bin/busybox
dir=$(mktemp -d)
trap 'status=$?; rm -rf "$dir"; verify_cleanup "$status"' EXIT
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,root,var/www}
cp "$bin" "$dir/bin/busybox"
chroot "$dir" /bin/busybox --install -s
chmod 1777 "$dir/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
tar --numeric-owner -C "$dir" -c . |
    docker import -c "$(source_label)" -c 'CMD ["sh"]' -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
IMPORTED=1
out=$(docker run --rm "$IMAGE" sh -c 'echo ok $(id -u)')
[[ $out == "ok 0" ]] || { log "verification failed: $out"; exit 1; }
finish "$IMAGE" "$start"
