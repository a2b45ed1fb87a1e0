#!/usr/bin/env bash
# envctl/mariadb:10.11 — Debian bookworm's MariaDB 10.11 (MySQL-compatible), server and client
# cores only. On first start the entrypoint initialises /var/lib/mysql, sets the root password
# from MARIADB_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD (empty allowed) for root@localhost and
# root@'%', creates MYSQL_DATABASE (and MYSQL_USER/MYSQL_PASSWORD with rights on it), then
# runs mariadbd in the foreground on 0.0.0.0:3306.
set -euo pipefail
IMAGE=envctl/mariadb:10.11
source "$(dirname "$0")/../lib.sh"
image_present "$IMAGE" && { log "present, skipping"; exit 0; }
start=$SECONDS
customize() {
    local root=$1
    chroot "$root" useradd --system --no-create-home --home-dir /var/lib/mysql \
        --shell /usr/sbin/nologin mysql
    cat >"$root/usr/local/bin/mariadb-entrypoint" <<'SH'
#!/bin/sh
set -eu
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
PASSWORD=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
DATABASE=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
USER_NAME=${MARIADB_USER:-${MYSQL_USER:-}}
USER_PASSWORD=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
FLAGS="--user=mysql --datadir=$DATADIR --socket=$SOCKET --skip-name-resolve
       --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci"

mkdir -p /run/mysqld "$DATADIR"
chown mysql:mysql /run/mysqld "$DATADIR"

sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g")"; }
sql_ident() { printf '`%s`' "$(printf '%s' "$1" | sed 's/`/``/g')"; }

if [ ! -d "$DATADIR/mysql" ]; then
    echo "envctl-mariadb: initialising $DATADIR"
    mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db \
        --auth-root-authentication-method=normal >/dev/null
    # shellcheck disable=SC2086
    mariadbd $FLAGS --skip-networking &
    pid=$!
    tries=0
    until mariadb --protocol=socket -S "$SOCKET" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "envctl-mariadb: the bootstrap server did not start" >&2
            exit 1
        fi
        sleep 0.1
    done
    pw=$(sql_string "$PASSWORD")
    {
        # mariadb-install-db adds password-less root@127.0.0.1, ::1 and <hostname>; they would
        # shadow root@'%' for TCP clients, so only root@localhost and root@'%' remain.
        echo "DROP USER IF EXISTS ''@'localhost', ''@'$(hostname)',"
        echo "    'root'@'127.0.0.1', 'root'@'::1', 'root'@'$(hostname)';"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY $pw;"
        echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "$DATABASE" ]; then
            echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$DATABASE");"
        fi
        if [ -n "$USER_NAME" ]; then
            echo "CREATE USER $(sql_string "$USER_NAME")@'%' IDENTIFIED BY $(sql_string "$USER_PASSWORD");"
            if [ -n "$DATABASE" ]; then
                echo "GRANT ALL PRIVILEGES ON $(sql_ident "$DATABASE").* TO $(sql_string "$USER_NAME")@'%';"
            fi
        fi
        echo "FLUSH PRIVILEGES;"
    } | mariadb --protocol=socket -S "$SOCKET" -uroot
    kill "$pid"
    wait "$pid" || true
    echo "envctl-mariadb: initialised"
fi
# shellcheck disable=SC2086
exec mariadbd $FLAGS --bind-address=0.0.0.0 --port=3306 "$@"
SH
    chmod 755 "$root/usr/local/bin/mariadb-entrypoint"
}
debian_image "$IMAGE" mariadb-server-core,mariadb-client-core customize \
    -c 'ENTRYPOINT ["/usr/local/bin/mariadb-entrypoint"]' -c 'EXPOSE 3306'
log "verifying: a query over TCP as root@'%' with the configured password and database"
id=$(verify_run "$IMAGE" -e MYSQL_ROOT_PASSWORD="s3cr'et" -e MYSQL_DATABASE=shop)
query_answers() {
    [[ $(docker exec "$id" mariadb -h 127.0.0.1 -uroot "-ps3cr'et" shop -N -e 'SELECT 40 + 2') == 42 ]]
}
if ! wait_for "mariadb query" 90 query_answers; then
    docker logs --tail 30 "$id" >&2
    exit 1
fi
finish "$IMAGE" "$start"
