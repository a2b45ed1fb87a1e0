#!/usr/bin/env bash
# envctl/dubbo-java:17 — a JRE for a team's own Dubbo jar: Debian bookworm's default headless
# JRE (OpenJDK 17) and an entrypoint that runs /app/app.jar. The image holds no Dubbo: the jar
# brings its own (templates/dubbo-java.yaml puts it there by `build:` or a bind mount).
#
#   entrypoint: dubbo-java-run ARGS...  ->  exec java $JAVA_OPTS -jar ${APP_JAR:-/app/app.jar} ARGS...
#
# JAVA_OPTS is split on whitespace (never globbed); the JVM reads JAVA_TOOL_OPTIONS itself.
# Idempotent: does nothing when the image exists and was built from these sources (its
# io.envctl.source-hash label, images/lib.sh; ENVCTL_REBUILD=1 rebuilds anyway).
set -euo pipefail
IMAGE=envctl/dubbo-java:17
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
customize() {
    local root=$1
    mkdir -p "$root/app"
    # Not needed to run a jar: javac's --release data (ct.sym) and the class-data archive for
    # heaps over 32 GB (classes_nocoops.jsa; test services run far smaller). About 20 MB.
    rm -f "$root"/usr/lib/jvm/java-*-openjdk-*/lib/ct.sym \
        "$root"/usr/lib/jvm/java-*-openjdk-*/lib/server/classes_nocoops.jsa
    cat >"$root/usr/local/bin/dubbo-java-run" <<'SH'
#!/bin/sh
# Runs the service's jar as PID 1 (exec, so `docker stop` reaches the JVM). JAVA_OPTS holds the
# -D properties and heap flags envctl's dubbo-java template sets; it is split into words, and
# `set -f` keeps a `*` in a property value from being expanded against the filesystem.
set -euf
jar=${APP_JAR:-/app/app.jar}
if [ ! -f "$jar" ]; then
    echo "dubbo-java: no jar at $jar; build FROM envctl/dubbo-java:17 with COPY your.jar $jar, or bind-mount it there (the dubbo-java template's build or jar param)" >&2
    exit 64
fi
# shellcheck disable=SC2086 # word splitting of JAVA_OPTS is the contract
exec java ${JAVA_OPTS:-} -jar "$jar" "$@"
SH
    chmod 755 "$root/usr/local/bin/dubbo-java-run"
}
# The JVM's container support sizes the heap from the container's memory limit: the template's
# -XX:MaxRAMPercentage relies on it, so it is verified below.
debian_image "$IMAGE" default-jre-headless customize \
    -c 'ENTRYPOINT ["/usr/local/bin/dubbo-java-run"]' -c 'WORKDIR /app' -c 'EXPOSE 20880'

fail() {
    log "verification failed: $*"
    docker image rm "$IMAGE" >/dev/null 2>&1 || true
    exit 1
}
log "verifying: a missing jar is named; the heap follows a 256m memory limit"
out=$(docker run --rm --label "$VERIFY_LABEL" "$IMAGE" 2>&1) && fail "started without a jar"
grep -q 'no jar at /app/app.jar' <<<"$out" || fail "unexpected output without a jar: $out"
heap=$(docker run --rm --label "$VERIFY_LABEL" --memory 256m --entrypoint java "$IMAGE" \
    -XX:MaxRAMPercentage=50 -XshowSettings:vm -version 2>&1 | sed -n 's/.*Max. Heap Size (Estimated): //p')
# Half of 256 MiB, give or take the JVM's rounding to its region size.
[[ $heap =~ ^12[0-9](\.[0-9]+)?M$ ]] || fail "max heap under --memory 256m with MaxRAMPercentage=50 is '$heap', not ~128M"
finish "$IMAGE" "$start"
