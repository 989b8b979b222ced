#!/usr/bin/env bash
# Install minipod and what the tests need, check the tree with ruff (lint
# and format) and mypy, then run the whole suite, as root, on real
# namespaces: tests/unit (as nobody), tests/root, tests/e2e. CI runs exactly this
# (.ci/run); a lint or type error fails it before any test runs.
#
# The suite runs under the leak checker when it is available beside the
# repository: any network namespace, link, mount, cgroup, nftables table or
# process left behind fails the run, even when every test passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${MINIPOD_PREFIX:-/opt/minipod}

"$here/scripts/install.sh"
# Exact versions of the checkers: a newer ruff may format differently.
"$prefix/venv/bin/pip" install -q --disable-pip-version-check "pytest>=7" "kubernetes>=28" "ruff==0.17.6" "mypy==2.4.1"
# What only the tests need: the reference CNI plugins (minipod must work with
# them too), a real registry on loopback and the tools that push into it,
# Graphviz to render `inspect -o svg`, and Go, make and bzip2 to build the CRI
# test tools and images (scripts/critest-build.sh).
missing=""
for p in containernetworking-plugins docker-registry skopeo apache2-utils graphviz golang-go make bzip2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cd "$here"
# Style and types first (configuration in pyproject.toml): mypy checks all
# of minipod/, with kube/ and the typed part of pod/ held to --strict's rules.
"$prefix/venv/bin/ruff" check --quiet .
"$prefix/venv/bin/ruff" format --check --quiet .
"$prefix/venv/bin/mypy" --no-error-summary

# The installed package is what gets tested (not the source tree): the
# pytest script, unlike `python -m pytest`, does not put the cwd on sys.path.
pytest=("$prefix/venv/bin/pytest" -p no:cacheprovider)

# tests/unit first, as an unprivileged user (nobody): pure functions need no
# root, and one that does fails here. From a copy nobody can read (the
# checkout may be in root's home); tests/conftest.py refuses any other kind
# of test in this run, and a root one. Under a minute, or it fails.
unit_dir=$(mktemp -d /tmp/minipod-unit-XXXXXX)
tar -c --exclude=.git --exclude=build --exclude='*.egg-info' . | tar -x -C "$unit_dir"
chmod -R a+rX "$unit_dir"
unit_ok=0
(cd "$unit_dir" && MINIPOD_TESTS_UNPRIVILEGED=1 PYTHONDONTWRITEBYTECODE=1 timeout 60 \
    setpriv --reuid=nobody --regid=nogroup --clear-groups "${pytest[@]}" -q tests/unit) || unit_ok=$?
rm -rf "$unit_dir"
if [ "$unit_ok" -ne 0 ]; then
    echo "test.sh: tests/unit failed as an unprivileged user (exit $unit_ok; 124: over a minute)" >&2
    exit 1
fi

# The CRI conformance tools and images, built once per machine and cached
# (scripts/critest-build.sh): the CRI tests use them; skipped, with a word,
# where the cri-tools source is not beside the repository.
critest_src=${MINIPOD_CRITEST_SRC:-$here/../shared/critest}
if [ -f "$critest_src/images.sh" ]; then
    MINIPOD_CRITEST_SRC=$critest_src "$here/scripts/critest-build.sh" >/dev/null
    export MINIPOD_CRITEST_SRC=$critest_src
else
    echo "test.sh: no cri-tools source at $critest_src; the CRI conformance tests will be skipped" >&2
fi

# Then the rest as root: tests/root and tests/e2e, or what the arguments name.
cmd=("${pytest[@]}" "$@")
paths_given=0
for arg in "$@"; do
    case "$arg" in -*) ;; *) paths_given=1 ;; esac
done
[ "$paths_given" -eq 1 ] || cmd+=(tests/root tests/e2e)
leakcheck=${LEAKCHECK:-$here/../shared/tools/leakcheck}
if [ -x "$leakcheck" ]; then
    exec "$leakcheck" run -- "${cmd[@]}"
fi
echo "test.sh: no leak checker at $leakcheck; running the suite without it" >&2
exec "${cmd[@]}"
