#!/usr/bin/env bash
# A private Docker daemon for building and testing Jietiao's images here:
# no bridge, no iptables rules, its own folders and socket. Containers must use
# host networking (every server listens on 127.0.0.1 on a port of its own).
#   deploy/docker/dockerd.sh start   # prints: export DOCKER_HOST=unix:///tmp/jietiao-docker.sock
#   deploy/docker/dockerd.sh stop
#   deploy/docker/dockerd.sh status
set -euo pipefail
ROOT=${JIETIAO_DOCKER_ROOT:-/tmp/jietiao-docker}
SOCK=${JIETIAO_DOCKER_SOCK:-/tmp/jietiao-docker.sock}
PIDFILE=$ROOT/dockerd.pid
export DOCKER_HOST=unix://$SOCK

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
start)
    if running; then
        echo "export DOCKER_HOST=$DOCKER_HOST"
        exit 0
    fi
    command -v dockerd >/dev/null || {
        echo "dockerd missing: apt-get install -y docker.io debootstrap" >&2
        exit 1
    }
    mkdir -p "$ROOT/data" "$ROOT/exec"
    nohup dockerd --bridge=none --iptables=false --ip-masq=false \
        --data-root "$ROOT/data" --exec-root "$ROOT/exec" \
        -H "unix://$SOCK" --pidfile "$PIDFILE" >"$ROOT/dockerd.log" 2>&1 &
    for _ in $(seq 1 100); do
        docker version >/dev/null 2>&1 && break
        sleep 0.2
    done
    docker version >/dev/null 2>&1 || {
        echo "dockerd did not start; see $ROOT/dockerd.log" >&2
        exit 1
    }
    echo "export DOCKER_HOST=$DOCKER_HOST"
    ;;
stop)
    if running; then
        pid=$(cat "$PIDFILE")
        kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
    fi
    ;;
status)
    running && echo "running: DOCKER_HOST=$DOCKER_HOST" || { echo "stopped"; exit 1; }
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
