#!/usr/bin/env bash
# envctl/zookeeper:3.8 — Debian bookworm's ZooKeeper 3.8 (libzookeeper-java) on the headless JRE,
# standalone, in the foreground on 2181. 4lw commands ruok,srvr,stat,mntr are whitelisted, the
# admin server is off, the heap is small (ZK_HEAP, default 256m). Data lives in /var/lib/zookeeper.
# The `zookeeper` package itself is skipped: it only adds init scripts and pulls in a full JRE
# with X11.
set -euo pipefail
IMAGE=envctl/zookeeper:3.8
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
customize() {
    local root=$1
    mkdir -p "$root/etc/zookeeper/envctl" "$root/var/lib/zookeeper"
    cat >"$root/etc/zookeeper/envctl/zoo.cfg" <<'CFG'
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=2181
maxClientCnxns=0
4lw.commands.whitelist=ruok,srvr,stat,mntr
admin.enableServer=false
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG
    cat >"$root/etc/zookeeper/envctl/log4j.properties" <<'CFG'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
CFG
    cat >"$root/usr/local/bin/zookeeper-server" <<'SH'
#!/bin/sh
# Runs ZooKeeper standalone in the foreground (PID 1 via exec, so `docker stop` reaches the JVM).
set -e
mkdir -p /var/lib/zookeeper
exec java -Xms32m -Xmx"${ZK_HEAP:-256m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dzookeeper.4lw.commands.whitelist=ruok,srvr,stat,mntr -Dzookeeper.admin.enableServer=false \
    -cp /etc/zookeeper/envctl:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar \
    org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/zookeeper/envctl/zoo.cfg
SH
    chmod 755 "$root/usr/local/bin/zookeeper-server"
}
debian_image "$IMAGE" default-jre-headless,libzookeeper-java customize \
    -c 'CMD ["/usr/local/bin/zookeeper-server"]' -c 'EXPOSE 2181' -c 'ENV ZK_HEAP=256m'
log "verifying: ruok -> imok over a published loopback port"
id=$(verify_run "$IMAGE" -p 127.0.0.1::2181)
port=$(docker port "$id" 2181/tcp | head -n1 | sed 's/.*://')
# In a subshell: docker-proxy accepts before ZooKeeper listens and then drops the
# connection, and the write's SIGPIPE would kill this whole script, silently.
four_letter() ( # four_letter CMD EXPECTED
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf '%s' "$1" >&3
    timeout 5 cat <&3 | grep -q "$2"
)
if ! wait_for "zookeeper imok" 60 four_letter ruok imok; then
    docker logs --tail 30 "$id" >&2
    exit 1
fi
four_letter srvr 'Mode: standalone'
finish "$IMAGE" "$start"
