#!/usr/bin/env bash
# Install minipod and what the tests need, then run the whole suite, as
# root, on real namespaces. CI runs exactly this (.ci/run).
#
# The suite runs under the leak checker when it is available beside the
# repository: any network namespace, link, mount, cgroup, nftables table or
# process left behind fails the run, even when every test passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${MINIPOD_PREFIX:-/opt/minipod}

"$here/scripts/install.sh"
"$prefix/venv/bin/pip" install -q --disable-pip-version-check "pytest>=7" "kubernetes>=28" "mypy>=1.8"
# What only the tests need: the reference CNI plugins (minipod must work with
# them too), a real registry on loopback and the tools that push into it,
# and Graphviz to render `inspect -o svg`.
missing=""
for p in containernetworking-plugins docker-registry skopeo apache2-utils graphviz; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cd "$here"
# Types first: mypy --strict on the modules pyproject.toml lists ([tool.mypy]).
"$prefix/venv/bin/mypy"
# The installed package is what gets tested (not the source tree): the
# pytest script, unlike `python -m pytest`, does not put the cwd on sys.path.
cmd=("$prefix/venv/bin/pytest" -p no:cacheprovider "$@")
leakcheck=${LEAKCHECK:-$here/../shared/tools/leakcheck}
if [ -x "$leakcheck" ]; then
    exec "$leakcheck" run -- "${cmd[@]}"
fi
echo "test.sh: no leak checker at $leakcheck; running the suite without it" >&2
exec "${cmd[@]}"
