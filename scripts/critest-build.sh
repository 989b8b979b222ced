#!/usr/bin/env bash
# Build the CRI test tools and images once per machine, offline, and cache them:
#
#   scripts/critest-build.sh            print the cache directory holding
#                                       bin/crictl, bin/critest and registry/
#
# 1. the tools: crictl and critest (cri-tools v1.26.1) from the source tarball
#    in $MINIPOD_CRITEST_SRC (default: ../shared/critest beside the checkout),
#    with Debian's Go, vendored modules only (GOPROXY=off)
# 2. the images critest pulls: the source folder's images.sh builds them from
#    distribution packages and pushes them into a docker-registry started here
#    on a loopback port of its own; its storage directory is what is cached,
#    and each test session serves a copy of it (tests/helpers/critest.py)
#
# Both live in $MINIPOD_CRITEST_CACHE (default /var/cache/minipod-critest),
# outside the repository and every instance root, in a folder named after the
# checksum of what built them: a new tarball or a new images.sh builds anew,
# an unchanged one costs nothing (about 2.5 + 2 minutes the first time).
# Two suites starting together build once: the second waits on a lock.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${MINIPOD_CRITEST_SRC:-$here/../shared/critest}
cache=${MINIPOD_CRITEST_CACHE:-/var/cache/minipod-critest}
tarball=$src/cri-tools-1.26.1.tar.gz
for f in "$tarball" "$src/images.sh" "$src/ocibuild.py"; do
    if [ ! -f "$f" ]; then
        echo "critest-build: $f is missing (set MINIPOD_CRITEST_SRC to the folder with the cri-tools tarball and images.sh)" >&2
        exit 1
    fi
done

key=$(cat "$tarball" "$src/images.sh" "$src/ocibuild.py" | sha256sum | cut -c1-16)
out=$cache/$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -x "$out/bin/critest" ] && [ -x "$out/bin/crictl" ] && [ -f "$out/registry/.complete" ]; then
    echo "$out"
    exit 0
fi

work=$(mktemp -d "$cache/build-XXXXXX")
registry_pid=""
cleanup() {
    if [ -n "$registry_pid" ]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out/bin"

# 1. The tools.
if [ ! -x "$out/bin/critest" ] || [ ! -x "$out/bin/crictl" ]; then
    echo "critest-build: building crictl and critest (a few minutes, once)" >&2
    tar -xzf "$tarball" -C "$work"
    (
        cd "$work/cri-tools-1.26.1"
        export GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$work/gocache" GOPATH="$work/gopath" CGO_ENABLED=0
        go build -o "$work/crictl" ./cmd/crictl
        go test -c -o "$work/critest" ./cmd/critest
    ) >"$work/go.log" 2>&1 || {
        cat "$work/go.log" >&2
        echo "critest-build: building cri-tools failed (above)" >&2
        exit 1
    }
    install -m 0755 "$work/crictl" "$work/critest" "$out/bin/"
fi

# 2. The images, pushed into a registry whose storage is the cache.
if [ ! -f "$out/registry/.complete" ]; then
    echo "critest-build: building the test images (a few minutes, once)" >&2
    rm -rf "$out/registry"
    mkdir -p "$out/registry"
    cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $out/registry
http:
  addr: 127.0.0.1:0
  secret: build-secret
EOF
    docker-registry serve "$work/registry.yml" >"$work/registry.out" 2>"$work/registry.log" </dev/null &
    registry_pid=$!
    address=""
    for _ in $(seq 200); do
        address=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$work/registry.log" | head -1 | cut -d' ' -f3 || true)
        [ -n "$address" ] && break
        kill -0 "$registry_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$address" ]; then
        cat "$work/registry.log" >&2
        echo "critest-build: the build registry did not start" >&2
        exit 1
    fi
    # skopeo needs a signature policy; a host may have none.
    echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$work/policy.json"
    mkdir -p "$work/skopeo"
    ln -s "$(command -v skopeo)" "$work/skopeo/skopeo.real"
    printf '#!/bin/sh\nexec %s --policy %s "$@"\n' "$work/skopeo/skopeo.real" "$work/policy.json" >"$work/skopeo/skopeo"
    chmod +x "$work/skopeo/skopeo"
    PATH="$work/skopeo:$PATH" WORK="$work/images" REGISTRY="$address" bash "$src/images.sh" >"$work/images.log" 2>&1 || {
        tail -40 "$work/images.log" >&2
        echo "critest-build: building the test images failed (above)" >&2
        exit 1
    }
    touch "$out/registry/.complete"
fi
echo "$out"
