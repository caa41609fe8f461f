#!/usr/bin/env bash
# Build Jietiao's images without a registry (see deploy/README.md).
#   deploy/docker/build.sh            # base images, NATS, PostgreSQL, every service
#   deploy/docker/build.sh backing    # only NATS and PostgreSQL (what the tests need)
#   deploy/docker/build.sh services   # only the service images (base made if missing)
# Base images come from debootstrap (Debian bookworm) + `docker import`; run as root
# the first time. Set REBUILD=1 to remake base images that already exist. With a
# registry, BASE=python:3.11-slim builds the services on the official image instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOCKER_HOST=${DOCKER_HOST:-unix:///tmp/jietiao-docker.sock}
export DOCKER_BUILDKIT=0
TAG=${TAG:-latest}
BASE=${BASE:-jietiao/python-base:$TAG}
# The Debian mirror this machine's apt already uses, unless DEBIAN_MIRROR says otherwise.
apt_mirror() {
    awk '/^URIs:/ { print $2; exit } /^deb / { print $2; exit }' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true
}
MIRROR=${DEBIAN_MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "set DEBIAN_MIRROR to a Debian mirror URL" >&2; exit 1; }
ROOTFS=${JIETIAO_ROOTFS:-/tmp/jietiao-rootfs}
# CA bundle pip uses inside the build stage (a TLS-inspecting proxy's CA must be in
# it); set BUILD_CA= (empty) to use the base image's own certificates.
BUILD_CA=${BUILD_CA-/etc/ssl/certs/ca-certificates.crt}
SERVICES=(agreements identity signing notify documents gateway)
what=${1:-all}

have_image() { [ "${REBUILD:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

# debootstrap a minimal bookworm with some packages and import it as image $1.
debian_image() {
    local name=$1 packages=$2 user=$3 dir
    if have_image "$name"; then return; fi
    dir="$ROOTFS/${name//[\/:]/_}"
    rm -rf "$dir"
    debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$MIRROR" >/dev/null
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
        "$dir"/usr/share/man/*
    tar -C "$dir" -c . | docker import -c "USER $user" -c "ENV LANG=C.UTF-8" - "$name" >/dev/null
    rm -rf "$dir"
    echo "imported $name"
}

build_backing() {
    local ctx
    ctx=$(mktemp -d)
    cp "$(.venv/bin/python -c 'from jietiao_stack.servers import nats_server_binary as b; print(b())')" \
        "$ctx/nats-server"
    mkdir "$ctx/data"
    docker build -q -f deploy/docker/nats.Dockerfile -t "jietiao/nats:$TAG" "$ctx" >/dev/null
    rm -rf "$ctx"
    echo "built jietiao/nats:$TAG"
    debian_image "jietiao/postgres-base:$TAG" postgresql-15 postgres
    docker build -q --build-arg "BASE=jietiao/postgres-base:$TAG" \
        -f deploy/docker/postgres.Dockerfile -t "jietiao/postgres:$TAG" deploy/docker >/dev/null
    echo "built jietiao/postgres:$TAG"
}

build_services() {
    if [ "$BASE" = "jietiao/python-base:$TAG" ]; then
        debian_image "$BASE" python3,python3-venv,fonts-wqy-microhei,ca-certificates root
    fi
    # The six builds run side by side: they spend most of their time fetching wheels.
    local svc pids=() failed=0
    for svc in "${SERVICES[@]}"; do
        build_service "$svc" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    return "$failed"
}

build_service() {
    local svc=$1 ctx
    ctx=$(mktemp -d)
    tar -c --exclude=__pycache__ --exclude=tests --exclude='*.egg-info' \
        --exclude=build-ca.crt shared "services/$svc" deploy/docker | tar -x -C "$ctx"
    if [ -s "$BUILD_CA" ]; then cp "$BUILD_CA" "$ctx/deploy/docker/build-ca.crt"; fi
    if docker build -q --network host --build-arg "BASE=$BASE" --build-arg "SERVICE=$svc" \
        -f deploy/docker/Dockerfile -t "jietiao/$svc:$TAG" "$ctx" >"$ctx.log" 2>&1; then
        echo "built jietiao/$svc:$TAG"
        rm -f "$ctx.log"
    else
        echo "building jietiao/$svc:$TAG failed:" >&2
        cat "$ctx.log" >&2
        rm -f "$ctx.log"
        rm -rf "$ctx"
        return 1
    fi
    rm -rf "$ctx"
}

case "$what" in
all) build_backing; build_services ;;
backing) build_backing ;;
services) build_services ;;
*) echo "usage: $0 [all|backing|services]" >&2; exit 2 ;;
esac
