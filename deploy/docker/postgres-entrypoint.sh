#!/bin/sh
# Initialise the cluster in $PGDATA when empty, then run postgres with the arguments.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -n "${JIETIAO_PG_PASSWORD:-}" ]; then
        pwfile=$(mktemp)
        printf '%s\n' "$JIETIAO_PG_PASSWORD" >"$pwfile"
        initdb -D "$PGDATA" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
            --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
    else
        initdb -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
fi
exec postgres -D "$PGDATA" "$@"
