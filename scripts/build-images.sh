#!/usr/bin/env bash
# Builds envctl's local images (no registry is reachable): all of them, or the ones named.
#   scripts/build-images.sh                 # every images/*/build.sh (busybox first)
#   scripts/build-images.sh busybox redis   # just these
# Each images/<name>/build.sh is idempotent: an image that exists and was built from the
# current sources (images/<name>/ and images/lib.sh, hashed into its io.envctl.source-hash
# label) is skipped; one from other sources is rebuilt (ENVCTL_REBUILD=1 rebuilds all). Debian rootfs tarballs and .debs are cached under /var/cache/envctl-images
# (ENVCTL_IMAGE_CACHE), so a rebuild after `docker rmi` is an unpack and an import.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all=(busybox redis memcached zookeeper mariadb nginx)
# Images other branches add (e.g. dubbo-python) join the default set once they exist.
for dir in "$root"/images/*/; do
    name=$(basename "$dir")
    [[ -x $dir/build.sh && " ${all[*]} " != *" $name "* ]] && all+=("$name")
done
if (($#)); then names=("$@"); else names=("${all[@]}"); fi
for name in "${names[@]}"; do
    [[ -x $root/images/$name/build.sh ]] || {
        echo "build-images: no image named '$name' (known: ${all[*]})" >&2
        exit 2
    }
done
total=${#names[@]}
i=0
started=$SECONDS
for name in "${names[@]}"; do
    i=$((i + 1))
    echo "==> [$i/$total] $name" >&2
    t=$SECONDS
    if ! "$root/images/$name/build.sh"; then
        echo "build-images: $name failed after $((SECONDS - t))s" >&2
        exit 1
    fi
done
echo "==> images ready (${names[*]}) in $((SECONDS - started))s" >&2
