#!/usr/bin/env bash
# A second, real Docker engine for the remote-engine tests: its own network namespace, address,
# data root, exec root, socket and bridge settings, listening on TCP at the namespace's address,
# both plain (2375) and with verified TLS (2376).
# To envctl it is a "shared test server": nothing reaches it through the host's engine.
#
#   scripts/remote-engine.sh start    start it (idempotent) and load the envctl/* images
#   scripts/remote-engine.sh url      print its DOCKER_HOST (tcp://ADDR:2375)
#   scripts/remote-engine.sh tls-url  print its TLS DOCKER_HOST (tcp://ADDR:2376)
#   scripts/remote-engine.sh certs    print the DOCKER_CERT_PATH of a client it trusts
#   scripts/remote-engine.sh status   exit 0 when it answers
#   scripts/remote-engine.sh stop     stop it, remove the namespace and the veth pair;
#                                     the data root stays as an image cache (fast next start)
#   scripts/remote-engine.sh purge    stop, then delete the data root too (machine as found)
#
# Layout (all overridable through the environment):
#   namespace ENVCTL_REMOTE_NS (envctl-remote), veth erem0 (host, .1) <-> erem1 (namespace, .2)
#   on ENVCTL_REMOTE_NET (10.231.7), TCP port 2375 without TLS (only the host can reach it) and
#   2376 with `--tlsverify` (clients need a certificate from the engine's own CA). dockerd puts
#   TLS on every tcp:// listener it has, so the plain 2375 is relayed to its unix socket by
#   socat, in the namespace too (installed from Debian when missing; not systemd-socket-proxyd,
#   which closes both directions when the client half-closes, so `docker run` over it lost
#   the container's output);
#   runtime files in /run/envctl-remote (socket, exec root, pid file, log, config);
#   data root ENVCTL_REMOTE_DATA (/var/lib/envctl-remote-engine); a throwaway CA, the server's
#   certificate (SAN: the namespace address) and a client's beside it, in DATA-tls/{server,client}.
# The host daemon's /etc/docker/daemon.json is never read: the engine gets its own config file.
set -euo pipefail

NS=${ENVCTL_REMOTE_NS:-envctl-remote}
NET=${ENVCTL_REMOTE_NET:-10.231.7}
HOST_IF=${ENVCTL_REMOTE_HOST_IF:-erem0}
NS_IF=${ENVCTL_REMOTE_NS_IF:-erem1}
RUN=${ENVCTL_REMOTE_RUN:-/run/envctl-remote}
DATA=${ENVCTL_REMOTE_DATA:-/var/lib/envctl-remote-engine}
DRIVER=${ENVCTL_REMOTE_STORAGE_DRIVER:-overlay2}
DEADLINE=${ENVCTL_REMOTE_DEADLINE:-60}
ADDR="$NET.2"
URL="tcp://$ADDR:2375"
TLS_URL="tcp://$ADDR:2376"
TLS=${ENVCTL_REMOTE_TLS:-$DATA-tls}
SOCK="unix://$RUN/docker.sock"
LOCK=/run/envctl-remote.lock

log() { echo "remote-engine: $*" >&2; }
remote() { docker -H "$SOCK" "$@"; }
answers() { remote version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }
answers_tcp() { docker -H "$URL" version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }
# The TLS listener, as a client with the engine's client certificate sees it.
answers_tls() {
    DOCKER_CERT_PATH="$TLS/client" docker --tlsverify -H "$TLS_URL" \
        version --format '{{.Server.APIVersion}}' >/dev/null 2>&1
}
pid_alive() { [[ -f "$RUN/dockerd.pid" ]] && kill -0 "$(cat "$RUN/dockerd.pid")" 2>/dev/null; }

network_up() {
    ip netns list | grep -qw "$NS" || ip netns add "$NS"
    if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
        ip link add "$HOST_IF" type veth peer name "$NS_IF"
        ip link set "$NS_IF" netns "$NS"
        ip addr add "$NET.1/24" dev "$HOST_IF"
        ip link set "$HOST_IF" up
    fi
    ip -n "$NS" link set lo up
    ip -n "$NS" addr replace "$ADDR/24" dev "$NS_IF"
    ip -n "$NS" link set "$NS_IF" up
    # Containers on the engine reach the developer's machine (a `--local` service) through .1.
    ip -n "$NS" route replace default via "$NET.1"
}

write_config() {
    # Bridge and pools far from the host daemon's 172.x ranges, so addresses never look alike.
    cat >"$RUN/daemon.json" <<EOF
{
  "storage-driver": "$DRIVER",
  "bip": "10.231.8.1/24",
  "default-address-pools": [{ "base": "10.232.0.0/16", "size": 24 }],
  "mtu": 1400,
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "2" },
  "cgroup-parent": "envctl-remote"
}
EOF
}

# A throwaway CA, a server certificate for the namespace address and a client certificate,
# made once and kept beside the data root (a later start reuses them).
make_certs() {
    [[ -f "$TLS/client/key.pem" && -f "$TLS/server/key.pem" ]] && return
    log "making a throwaway CA and certificates in $TLS"
    local work
    work=$(mktemp -d)
    (
        cd "$work"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=envctl-remote-ca" \
            -keyout ca-key.pem -out ca.pem 2>/dev/null
        issue() { # NAME CN EXTENSIONS
            openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1-key.pem" \
                -out "$1.csr" 2>/dev/null
            printf '%s\n' "$3" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
                -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
        }
        issue server "$ADDR" "subjectAltName=IP:$ADDR,IP:127.0.0.1
extendedKeyUsage=serverAuth"
        issue client envctl-test-client "extendedKeyUsage=clientAuth"
    )
    rm -rf "$TLS"
    mkdir -p "$TLS/server" "$TLS/client"
    cp "$work/ca.pem" "$TLS/server/ca.pem"
    cp "$work/server.pem" "$TLS/server/cert.pem"
    cp "$work/server-key.pem" "$TLS/server/key.pem"
    cp "$work/ca.pem" "$TLS/client/ca.pem"
    cp "$work/client.pem" "$TLS/client/cert.pem"
    cp "$work/client-key.pem" "$TLS/client/key.pem"
    # Readable by the tests (the engine is root's; the keys guard a throwaway test daemon).
    chmod 0644 "$TLS"/*/*.pem
    rm -rf "$work"
}

# The plain-TCP relay (see the header) comes from Debian's socat.
need_socat() {
    command -v socat >/dev/null 2>&1 && return 0
    log "installing socat (the plain-TCP relay)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q socat >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q socat >/dev/null; }
}

start_daemon() {
    need_socat
    mkdir -p "$RUN" "$DATA"
    make_certs
    write_config
    log "starting dockerd in namespace $NS on $URL and $TLS_URL (log: $RUN/dockerd.log)"
    # nsenter, not `ip netns exec`: the latter remounts /sys for the child, which dockerd and
    # its containers must not see. fd 9 (the lock) is closed so the daemon does not hold it.
    setsid nohup nsenter --net="/run/netns/$NS" dockerd \
        --config-file "$RUN/daemon.json" \
        --data-root "$DATA" \
        --exec-root "$RUN/exec" \
        --pidfile "$RUN/dockerd.pid" \
        -H "$SOCK" -H "$TLS_URL" \
        --tlsverify --tlscacert "$TLS/server/ca.pem" \
        --tlscert "$TLS/server/cert.pem" --tlskey "$TLS/server/key.pem" \
        >"$RUN/dockerd.log" 2>&1 </dev/null 9>&- &
    local end=$((SECONDS + DEADLINE))
    # backlog: socat's default of 5 reset connections when `up` opened 18 at once (project-a
    # cold); -t: a half-closed connection keeps its other direction 30 s, not 0.5 s.
    setsid nohup nsenter --net="/run/netns/$NS" \
        socat -t 30 "TCP-LISTEN:2375,bind=$ADDR,fork,reuseaddr,backlog=128" "UNIX-CONNECT:$RUN/docker.sock" \
        >"$RUN/proxy.log" 2>&1 </dev/null 9>&- &
    echo $! >"$RUN/proxy.pid"
    until answers && answers_tcp && answers_tls; do
        if ((SECONDS >= end)); then
            log "the engine did not answer within ${DEADLINE}s; its log:"
            tail -n 30 "$RUN/dockerd.log" >&2 || true
            exit 1
        fi
        sleep 0.3
    done
}

# Copies every envctl/* image the remote engine lacks (or has in another version). Image ids
# survive save/load, so an unchanged image is skipped: repeated starts cost a listing.
load_images() {
    local ref id
    while read -r ref id; do
        [[ "$ref" == *"<none>"* ]] && continue
        if [[ "$(remote image inspect --format '{{.Id}}' "$ref" 2>/dev/null)" != "$id" ]]; then
            log "loading $ref"
            docker save "$ref" | remote load -q >/dev/null
        fi
    done < <(docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' 'envctl/*')
}

stop_daemon() {
    if pid_alive; then
        local pid end
        pid=$(cat "$RUN/dockerd.pid")
        log "stopping dockerd ($pid)"
        kill -TERM "$pid"
        end=$((SECONDS + DEADLINE))
        while kill -0 "$pid" 2>/dev/null; do
            if ((SECONDS >= end)); then
                log "dockerd ($pid) did not stop within ${DEADLINE}s; killing it"
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    fi
    if [[ -f "$RUN/proxy.pid" ]]; then
        kill -TERM "$(cat "$RUN/proxy.pid")" 2>/dev/null || true
    fi
    # The namespace takes its end of the veth pair (and so the pair) with it.
    ip link del "$HOST_IF" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$RUN"
}

cmd=${1:-}
case "$cmd" in
start)
    exec 9>"$LOCK"
    flock 9
    # A daemon from before the TLS listener existed is restarted with it.
    if ! answers || ! answers_tcp || ! answers_tls; then
        stop_daemon
        network_up
        start_daemon
    fi
    load_images
    echo "$URL"
    ;;
url) echo "$URL" ;;
tls-url) echo "$TLS_URL" ;;
certs) echo "$TLS/client" ;;
status) answers ;;
stop)
    exec 9>"$LOCK"
    flock 9
    stop_daemon
    ;;
purge)
    exec 9>"$LOCK"
    flock 9
    stop_daemon
    rm -rf "$DATA" "$TLS"
    rm -f "$LOCK"
    ;;
*)
    echo "usage: $0 start|url|tls-url|certs|status|stop|purge" >&2
    exit 2
    ;;
esac
