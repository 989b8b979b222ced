"""Kubernetes' rules for a container's command line and environment.

    command/args    command replaces the image's Entrypoint and drops its
                    Cmd; args alone replace the Cmd (after the Entrypoint);
    env             the image's Env, then `env` in order; $(VAR) expands a
                    variable defined earlier in `env`, $$ is a literal $, an
                    unknown reference stays as written; the same expansion
                    applies to command and args;
    fieldRef        the downward API: metadata.name, namespace, uid, labels;
    workingDir      created when missing.

Each container prints what it got and exits; the logs are compared.
"""

import pytest
from helpers.pods import ctr, pod

from minipod.image import base as baseimage

BUSYBOX_BINARY = "/bin/busybox"  # what `minipod image build-base` packs, too
ENTRYPOINT_IMAGE = "example.test/minipod/entrypoint:1"
PRINT = ["sh", "-c", "printf 'arg=%s\\n' \"$@\"; pwd | sed s/^/cwd=/; env | sed s/^/env:/", "sh"]


@pytest.fixture(scope="module")
def entrypoint_image(mp, tmp_path_factory) -> str:
    """busybox with Entrypoint [echo, EP], Cmd [from-cmd], its own Env and WorkingDir."""
    path = str(tmp_path_factory.mktemp("image") / "entrypoint.tar")
    with open(BUSYBOX_BINARY, "rb") as f:
        layer = baseimage.build_layer(f.read(), baseimage.list_applets(BUSYBOX_BINARY))
    config = {
        "Entrypoint": ["echo", "EP"],
        "Cmd": ["from-cmd"],
        "WorkingDir": "/home",
        "Env": [baseimage.PATH_ENV, "FROM_IMAGE=image", "OVERRIDE=image"],
    }
    baseimage.write_oci_archive(path, [layer], config, ENTRYPOINT_IMAGE)
    mp.run("image", "import", path)
    return ENTRYPOINT_IMAGE


def logs(mp, pod_name: str, container: str) -> str:
    return mp.run("logs", pod_name, "-c", container).stdout


def printed(mp, pod_name: str, container: str) -> dict:
    """{"args": [...], "cwd": str, "env": {...}} from a container running PRINT."""
    out = {"args": [], "cwd": None, "env": {}}
    for line in logs(mp, pod_name, container).splitlines():
        if line.startswith("arg="):
            out["args"].append(line[4:])
        elif line.startswith("cwd="):
            out["cwd"] = line[4:]
        elif line.startswith("env:"):
            k, _, v = line[4:].partition("=")
            out["env"][k] = v
    return out


def test_image_cmd_is_the_default_command(mp, pods, pod_name):
    # No command, no args: busybox's Cmd, `sh`, reading the stdin we keep open.
    pods.run(pod(pod_name, ctr("main", stdin=True)))
    pid = mp.inspect(pod_name)["containers"][0]["process"]["pid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:-1] == [b"sh"]


def test_command_and_args_rules(mp, pods, pod_name, entrypoint_image):
    ep = {"image": entrypoint_image}
    containers = [
        ctr("cmd-only", command=["echo", "cmd-only"]),
        ctr("args-only", args=["echo", "args-only"]),
        ctr("both", command=["echo", "both"], args=["a", "b"]),
        ctr("ep-default", **ep),
        ctr("ep-args", args=["x", "y"], **ep),
        ctr("ep-command", command=["echo", "replaced"], **ep),
        ctr("ep-both", command=["echo", "c"], args=["d"], **ep),
        ctr("ep-workdir", command=["pwd"], **ep),
        ctr("ep-env", command=["env"], env=[{"name": "OVERRIDE", "value": "spec"}], **ep),
    ]
    pods.run(pod(pod_name, *containers, restartPolicy="Never"))
    assert mp.pod(pod_name)["status"]["phase"] == "Succeeded"
    expected = {
        "cmd-only": "cmd-only",
        "args-only": "args-only",
        "both": "both a b",
        "ep-default": "EP from-cmd",
        "ep-args": "EP x y",
        "ep-command": "replaced",
        "ep-both": "c d",
        "ep-workdir": "/home",
    }
    for name, line in expected.items():
        assert logs(mp, pod_name, name) == line + "\n", name
    env = dict(line.partition("=")[::2] for line in logs(mp, pod_name, "ep-env").splitlines())
    assert env["FROM_IMAGE"] == "image" and env["OVERRIDE"] == "spec"
    assert env["PATH"] == baseimage.PATH_ENV.partition("=")[2]


def test_env_expansion_field_refs_and_working_dir(mp, pods, pod_name):
    env = [
        {"name": "A", "value": "one"},
        {"name": "B", "value": "$(A)-two"},
        {"name": "ESCAPED", "value": "$$(A)"},
        {"name": "DOLLARS", "value": "a$$b"},
        {"name": "FORWARD", "value": "$(LATER)"},  # defined after: not expanded
        {"name": "LATER", "value": "later"},
        {"name": "UNKNOWN", "value": "$(NOPE)"},
        {"name": "EMPTY"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "GREETING", "value": "hi $(POD_NAME)"},
    ]
    args = ["$(B)", "$$(A)", "$(NOPE)", "x$(A)y", "$(GREETING)"]
    pods.run(
        pod(
            pod_name,
            ctr("main", command=PRINT, args=args, env=env, workingDir="/created/for/me"),
            labels={"app": "web"},
            restartPolicy="Never",
        )
    )
    meta = mp.pod(pod_name)["metadata"]
    got = printed(mp, pod_name, "main")
    assert got["args"] == ["one-two", "$(A)", "$(NOPE)", "xoney", f"hi {pod_name}"]
    e = got["env"]
    assert {
        k: e.get(k)
        for k in ("A", "B", "ESCAPED", "DOLLARS", "FORWARD", "LATER", "UNKNOWN", "EMPTY", "GREETING")
    } == {
        "A": "one",
        "B": "one-two",
        "ESCAPED": "$(A)",
        "DOLLARS": "a$b",
        "FORWARD": "$(LATER)",
        "LATER": "later",
        "UNKNOWN": "$(NOPE)",
        "EMPTY": "",
        "GREETING": f"hi {pod_name}",
    }
    assert e["POD_NAME"] == pod_name and e["POD_NAMESPACE"] == "default"
    assert e["POD_UID"] == meta["uid"] and e["APP"] == "web"
    assert e["HOSTNAME"] == pod_name
    assert e["PATH"] == baseimage.PATH_ENV.partition("=")[2]  # the image's
    assert got["cwd"] == "/created/for/me"


def test_image_env_is_not_a_source_for_expansion(mp, pods, pod_name):
    # The kubelet expands $(VAR) against the pod spec's env only; the image's
    # Env is merged in later by the runtime, so $(PATH) stays as written.
    env = [{"name": "MYPATH", "value": "$(PATH)"}]
    pods.run(pod(pod_name, ctr("main", command=PRINT, args=["$(PATH)"], env=env), restartPolicy="Never"))
    got = printed(mp, pod_name, "main")
    assert got["env"]["MYPATH"] == "$(PATH)"
    assert got["args"] == ["$(PATH)"]


def test_exec_sessions_get_the_containers_environment(mp, pods, pod_name):
    env = [{"name": "A", "value": "one"}, {"name": "B", "value": "$(A)-two"}]
    pods.run(pod(pod_name, ctr("main", "exec sleep 3600", env=env, workingDir="/srv")))
    out = mp.run("exec", pod_name, "--", "sh", "-c", "echo $A $B $HOSTNAME; pwd").stdout
    assert out.split() == ["one", "one-two", pod_name, "/srv"]
