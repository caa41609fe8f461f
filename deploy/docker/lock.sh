#!/usr/bin/env bash
# Regenerate deploy/docker/locks/<service>.lock: the hashed third-party
# dependencies of one service plus those of jietiao-shared, for Python 3.11.
# The local package jietiao-shared is left out (the image installs it from source);
# versions are held to requirements/dev.lock, the set the tests run with.
# Usage: deploy/docker/lock.sh [service...]   (default: every service)
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=${UV:-/tmp/probe/bin/uv}
PY=${PYTHON:-python3}
services=("$@")
[ ${#services[@]} -eq 0 ] && services=(agreements identity signing notify documents gateway)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for svc in "${services[@]}"; do
    "$PY" - "services/$svc/pyproject.toml" shared/pyproject.toml >"$tmp/$svc.in" <<'PYEOF'
import sys
import tomllib

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        for dep in tomllib.load(f)["project"]["dependencies"]:
            if not dep.replace("_", "-").startswith("jietiao-"):
                print(dep)
PYEOF
    "$UV" pip compile --quiet --generate-hashes --python-version 3.11 --no-header \
        -c requirements/dev.lock \
        "$tmp/$svc.in" -o "deploy/docker/locks/$svc.lock"
    sed -i "s|-r $tmp/$svc.in|services/$svc/pyproject.toml, shared/pyproject.toml|" \
        "deploy/docker/locks/$svc.lock"
    echo "deploy/docker/locks/$svc.lock"
done
