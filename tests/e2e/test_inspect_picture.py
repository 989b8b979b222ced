"""`minipod inspect -o dot|svg|png` on live pods, rendered by Graphviz.

Three pods whose namespaces differ: two containers sharing an emptyDir, a
hostNetwork pod, and a shareProcessNamespace: false pod. Their pictures
must differ exactly there; the boxes are read back from the DOT text.
"""

import html
import re
import shutil
import subprocess

import pytest
from helpers.cli import assert_user_error
from helpers.instance import MINIPOD
from helpers.pods import ctr, pod

SLEEP = "exec sleep 3600"
needs_graphviz = pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz is not installed")


def boxes(dot: str, name: str, nstype: str) -> list[str]:
    """The inodes of the NSTYPE namespace boxes drawn in pod NAME."""
    return re.findall(rf'subgraph "cluster_pod/default/{name}/ns/[^"]*/?{nstype}(\d+)"', dot)


def three_pods(pods, base: str) -> tuple[str, str, str]:
    shared, hostnet, split = base[:40] + "-shared", base[:40] + "-hostnet", base[:40] + "-split"
    mount = {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    pods.run(
        pod(
            shared,
            ctr("writer", "echo hi > /data/f; " + SLEEP, **mount),
            ctr("reader", SLEEP, **mount),
            volumes=[{"name": "data", "emptyDir": {}}],
            shareProcessNamespace=True,
        ),
        pod(hostnet, ctr("main", SLEEP), hostNetwork=True),
        pod(split, ctr("a", SLEEP), ctr("b", SLEEP), shareProcessNamespace=False),
    )
    return shared, hostnet, split


def test_dot_of_three_pods_differs_where_their_namespaces_differ(mp, pods, pod_name):
    shared, hostnet, split = three_pods(pods, pod_name)
    host = mp.inspect(shared)["hostNamespaceInodes"]
    dots = {name: mp.run("inspect", name, "-o", "dot").stdout for name in (shared, hostnet, split)}

    # Shared: one box for each of net/uts/ipc/pid; a mnt box per container and the pod's.
    assert [len(boxes(dots[shared], shared, t)) for t in ("net", "uts", "ipc", "pid", "mnt")] == [
        1,
        1,
        1,
        1,
        3,
    ]
    p = f"pod/default/{shared}/"
    assert f'"{p}vol/data" -> "{p}c/writer" [label="/data"' in dots[shared]
    assert f'"{p}vol/data" -> "{p}c/reader" [label="/data"' in dots[shared]
    assert f'"{p}eth0" -> "{p}veth" [label="veth pair"' in dots[shared]
    assert f'"{p}mon/writer" -> "{p}c/writer"' in dots[shared]

    # hostNetwork: the net box is the host's own namespace, and there is no veth.
    assert boxes(dots[hostnet], hostnet, "net") == [str(host["net"])]
    assert "veth" not in dots[hostnet]
    assert boxes(dots[shared], shared, "net") != [str(host["net"])]

    # shareProcessNamespace: false: three pid boxes (the pod init's, a's, b's).
    assert len(boxes(dots[split], split, "pid")) == 3
    assert len(boxes(dots[split], split, "net")) == 1


@needs_graphviz
def test_svg_and_png_render_with_graphviz(mp, pods, pod_name):
    shared, hostnet, split = three_pods(pods, pod_name)
    for name in (shared, hostnet, split):
        svg = html.unescape(mp.run("inspect", name, "-o", "svg").stdout)  # dot writes "-" as &#45;
        assert "<svg" in svg and f"Pod default/{name}" in svg
    png = subprocess.run(
        [MINIPOD, "--root", mp.root, "inspect", split, "-o", "png"], capture_output=True, check=True
    ).stdout
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_inspect_all_draws_every_pod_and_one_bridge(mp, pods, pod_name):
    shared, hostnet, split = three_pods(pods, pod_name)
    dot = mp.run("inspect", "--all", "-o", "dot").stdout
    for name in (shared, hostnet, split):
        assert f'subgraph "cluster_pod/default/{name}/"' in dot
    assert len(re.findall(rf'^ *"bridge/{mp.bridge}" \[label=', dot, re.M)) == 1


def test_inspect_needs_one_pod_or_all(mp):
    assert_user_error(mp.run("inspect", check=False), "give one POD or --all")
    assert_user_error(mp.run("inspect", "no-such-pod", "-o", "dot", check=False), "no-such-pod")
