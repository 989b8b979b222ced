"""The command line, end to end: run, apply, get, describe, delete, events,
version and image ls, through the real `minipod` command and daemon.

Logs and exec are in test_cli_exec_logs.py.
"""

import json
import os
import re
import time

import pytest
import yaml
from helpers import MANIFESTS
from helpers.cli import assert_user_error, error_lines, names, rows
from helpers.pods import manifest, pod_yaml

HEADER = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
SLEEP = "sleep 3600"


def write(tmp_path, text: str, name: str = "pods.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- run ------------------------------------------------------------------------------


def test_run_creates_every_pod_of_a_file_and_a_rerun_is_unchanged(mp, pod_name, pods, tmp_path):
    a, b = pod_name + "-a", pod_name + "-b"
    pods.add(a, b)
    path = write(tmp_path, manifest(pod_yaml(a, SLEEP), pod_yaml(b, SLEEP)))
    for action in ("created", "unchanged"):
        p = mp.run("run", path, "--timeout", "30")
        assert p.stdout.splitlines()[0].split() == HEADER
        table = rows(p.stdout)
        assert set(table) == {a, b}
        for name in (a, b):
            assert table[name][1:4] == ["1/1", "Running", "0"]
            assert f"pod/{name} {action}" in p.stderr
    assert mp.pod(a)["status"]["containerStatuses"][0]["restartCount"] == 0


def test_run_counts_a_completed_pod_as_success(mp, pod_name, pods):
    pods.add(pod_name)
    p = mp.run_pod(pod_yaml(pod_name, "echo done; exit 0", restart="Never"))
    assert rows(p.stdout)[pod_name][1:3] == ["0/1", "Completed"]
    assert mp.pod(pod_name)["status"]["phase"] == "Succeeded"


@pytest.mark.parametrize("case", ["exit-code", "no-command", "never-pull"])
def test_run_explains_why_a_pod_cannot_run(mp, pod_name, pods, case):
    pods.add(pod_name)
    text, expected = {
        "exit-code": (pod_yaml(pod_name, "exit 3", restart="Never"), ["Error", "3"]),
        "no-command": (
            pod_yaml(pod_name, "").replace('["sh", "-c", ""]', '["nosuchcmd"]'),
            ['exec: "nosuchcmd"', "executable file not found in $PATH"],
        ),
        "never-pull": (
            pod_yaml(pod_name, SLEEP, image="busybox:0.0.404", extra_container="    imagePullPolicy: Never"),
            ["ErrImageNeverPull"],
        ),
    }[case]
    p = mp.run_pod(text, check=False)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    [line] = error_lines(p.stderr)
    assert pod_name in line and '"main"' in line, line
    for word in expected:
        assert re.search(rf"(?<![\w.]){re.escape(word)}(?![\w.])", line), (
            f"{word!r} not in the error line: {line}"
        )


def test_run_prints_one_error_line_per_failed_pod(mp, pod_name, pods, tmp_path):
    good, bad, absent = pod_name + "-ok", pod_name + "-exit", pod_name + "-img"
    pods.add(good, bad, absent)
    path = write(
        tmp_path,
        manifest(
            pod_yaml(good, SLEEP),
            pod_yaml(bad, "exit 3", restart="Never"),
            pod_yaml(absent, SLEEP, image="busybox:0.0.404", extra_container="    imagePullPolicy: Never"),
        ),
    )
    p = mp.run("run", path, "--timeout", "30", check=False)
    assert p.returncode == 1
    lines = error_lines(p.stderr)
    assert len(lines) == 2, p.stderr
    assert sum(bad in line for line in lines) == 1 and sum(absent in line for line in lines) == 1
    table = rows(p.stdout)
    assert table[good][1:3] == ["1/1", "Running"]
    assert table[bad][2] == "Error"
    assert table[absent][2] == "ErrImageNeverPull"


def test_run_gives_up_after_timeout(mp, pod_name, pods):
    pods.add(pod_name)
    stuck = pod_yaml(
        pod_name,
        SLEEP,
        extra_spec="""  initContainers:
  - name: wait
    image: busybox:1.35
    command: ["sleep", "3600"]""",
    )
    p = mp.run("run", "-", "--timeout", "1", input=stuck, check=False)
    assert p.returncode == 1
    [line] = error_lines(p.stderr)
    assert pod_name in line and "1s" in line
    assert rows(p.stdout)[pod_name][2] == "Init:0/1"


# --- validation through the command line ---------------------------------------------------

TYPO = "spec.containers[0].imagePullPolicyy: unknown field; did you mean imagePullPolicy?"


@pytest.mark.parametrize("verb", [["run", "-"], ["apply", "-f", "-"]])
def test_a_misspelt_field_is_refused_and_nothing_is_created(mp, pod_name, pods, verb):
    pods.add(pod_name)
    p = mp.run(
        *verb, input=pod_yaml(pod_name, SLEEP, extra_container="    imagePullPolicyy: Never"), check=False
    )
    assert_user_error(p, TYPO)
    items = json.loads(mp.run("get", "pods", "-o", "json").stdout)["items"]
    assert [i for i in items if i["metadata"]["name"] == pod_name] == []


def test_one_bad_document_stops_the_whole_file(mp, pod_name, pods, tmp_path):
    first, second = pod_name + "-good", pod_name + "-bad"
    pods.add(first, second)
    path = write(
        tmp_path,
        manifest(
            pod_yaml(first, SLEEP), pod_yaml(second, SLEEP, extra_container="    imagePullPolicyy: Never")
        ),
    )
    assert_user_error(mp.run("run", path, check=False), TYPO)
    assert_user_error(mp.run("apply", "-f", path, check=False), TYPO)
    assert not names(mp) & {first, second}


def _two_mains(name: str) -> str:
    return pod_yaml(
        name,
        SLEEP,
        extra_container="""  - name: main
    image: busybox:1.35""",
    )


@pytest.mark.parametrize("case", ["duplicate-container", "bad-name", "bad-yaml", "deployment"])
def test_invalid_manifests_are_refused(mp, pod_name, pods, case):
    pods.add(pod_name)
    text, expected = {
        "duplicate-container": (_two_mains(pod_name), ["spec.containers[1].name", '"main"']),
        "bad-name": (pod_yaml("My_Pod", SLEEP), ["metadata.name", '"My_Pod"', "RFC 1123"]),
        "bad-yaml": (pod_yaml(pod_name, SLEEP) + "  volumes: [\n", ["YAML", "line"]),
        "deployment": (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {pod_name}\nspec: {{}}\n",
            ["Deployment", "spec.selector: Required value", "spec.template.spec: Required value"],
        ),
    }[case]
    p = mp.run_pod(text, check=False)
    assert_user_error(p, *expected)
    if case == "duplicate-container":
        assert "duplicate value" in p.stderr.lower()
    assert not names(mp, "-A") & {pod_name, "My_Pod"}


def test_unimplemented_fields_warn_and_the_pod_runs(mp, pod_name, pods):
    pods.add(pod_name)
    p = mp.run_pod(
        pod_yaml(
            pod_name,
            SLEEP,
            extra_container="""    resources:
      limits:
        memory: 64Mi
    resizePolicy:
    - resourceName: cpu
      restartPolicy: NotRequired""",
        )
    )
    warnings = [line for line in p.stderr.splitlines() if line.startswith("Warning:")]
    assert any("spec.containers[0].resizePolicy" in w for w in warnings), p.stderr
    assert not any("resources" in w for w in warnings), p.stderr  # implemented: cgroups
    assert rows(p.stdout)[pod_name][1:3] == ["1/1", "Running"]


def _tool_output(fixture: str, name: str, **replace) -> dict:
    with open(os.path.join(MANIFESTS, fixture)) as f:
        [pod] = [d for d in yaml.safe_load_all(f) if d]
    pod["metadata"]["name"] = name
    for c in pod["spec"]["containers"]:
        c["image"], c["command"] = "busybox:1.35", ["sleep", "3600"]
        c.pop("args", None)
    for v in pod["spec"].get("volumes") or []:
        if "hostPath" in v:
            v["hostPath"]["path"] = replace["host_path"]
    return pod


@pytest.mark.parametrize("fixture", ["kubectl-run.yaml", "podman-kube-generate-pod.yaml"])
def test_real_tool_output_is_applied_and_runs(mp, pod_name, pods, tmp_path, fixture):
    pods.add(pod_name)
    pod = _tool_output(fixture, pod_name, host_path=str(tmp_path))
    p = mp.run("apply", "-f", write(tmp_path, yaml.safe_dump(pod)))
    assert p.stdout.strip() == f"pod/{pod_name} created"
    assert "Traceback" not in p.stderr
    got = mp.wait_for(
        pod_name,
        lambda x: (
            x["status"]["containerStatuses"] and all(c["ready"] for c in x["status"]["containerStatuses"])
        ),
        what="Running",
    )
    assert got["status"]["phase"] == "Running"
    assert [c["name"] for c in got["status"]["containerStatuses"]] == [
        c["name"] for c in pod["spec"]["containers"]
    ]
    assert got["metadata"]["labels"] == pod["metadata"]["labels"]


# --- get ------------------------------------------------------------------------------------


def test_get_pods_lists_and_shows_one(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, SLEEP))
    listed = mp.run("get", "pods")
    assert listed.stdout.splitlines()[0].split() == HEADER[:-1]
    assert rows(listed.stdout)[pod_name][1:4] == ["1/1", "Running", "0"]
    one = mp.run("get", "pods", pod_name).stdout.splitlines()
    assert len(one) == 2 and one[1].split()[:4] == [pod_name, "1/1", "Running", "0"]
    assert mp.run("get", "pod", pod_name, "-o", "name").stdout == f"pod/{pod_name}\n"


def test_get_pods_by_label_selector(mp, pod_name, pods):
    x, y = pod_name + "-x", pod_name + "-y"
    pods.add(x, y)
    mp.run_pod(
        manifest(
            pod_yaml(x, SLEEP, labels="  labels:\n    app: x"),
            pod_yaml(y, SLEEP, labels="  labels:\n    app: y"),
        )
    )
    assert x in names(mp, "-l", "app=x") and y not in names(mp, "-l", "app=x")
    assert y in names(mp, "-l", "app!=x") and x not in names(mp, "-l", "app!=x")
    assert {x, y} <= names(mp, "-l", "app")
    assert {x, y} <= names(mp, "-l", "app in (x, y)") and y not in names(mp, "-l", "app notin (y)")
    assert not {x, y} & names(mp, "-l", "!app")
    p = mp.run("get", "pods", "-l", "app in x", check=False)
    assert_user_error(p, "unable to parse requirement: found 'x', expected: '('")


def test_get_pod_json_is_a_v1_pod(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(
        pod_yaml(
            pod_name,
            SLEEP,
            labels="""  labels:
    app: web
  annotations:
    note: kept""",
        )
    )
    pod = json.loads(mp.run("get", "pod", pod_name, "-o", "json").stdout)
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    meta = pod["metadata"]
    assert meta["name"] == pod_name and meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["labels"] == {"app": "web"} and meta["annotations"] == {"note": "kept"}
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 30
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    status = pod["status"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status["startTime"])
    [cs] = status["containerStatuses"]
    assert cs["name"] == "main"
    assert re.fullmatch(r"minipod://[0-9a-f]{16,}", cs["containerID"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cs["state"]["running"]["startedAt"])
    assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
    assert cs["image"].endswith("busybox:1.35")
    assert "sha256:" in cs["imageID"]

    as_yaml = yaml.safe_load(mp.run("get", "pod", pod_name, "-o", "yaml").stdout)
    for key in ("apiVersion", "kind", "metadata", "spec"):
        assert as_yaml[key] == pod[key]
    assert as_yaml["status"]["containerStatuses"] == status["containerStatuses"]
    assert as_yaml["status"]["conditions"] == status["conditions"]

    listed = json.loads(mp.run("get", "pods", "-o", "json").stdout)
    assert listed["kind"] == "List" and pod_name in [i["metadata"]["name"] for i in listed["items"]]


def test_get_pods_wide(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, SLEEP))
    out = mp.run("get", "pods", pod_name, "-o", "wide").stdout.splitlines()
    head = out[0].split()
    assert head[:6] == HEADER and "NODE" in head
    row = out[1].split()
    assert row[head.index("NODE")] == os.uname().nodename


def test_namespaces_keep_pods_apart(mp, pod_name, pods):
    inside, flagged = pod_name + "-meta", pod_name + "-flag"
    pods.add(inside, flagged, namespace="team-a")
    mp.run_pod(
        pod_yaml(inside, SLEEP).replace(f"  name: {inside}\n", f"  name: {inside}\n  namespace: team-a\n")
    )
    mp.run_pod(pod_yaml(flagged, SLEEP), "-n", "team-a")
    assert not names(mp) & {inside, flagged}
    assert {inside, flagged} <= names(mp, "-n", "team-a")
    assert mp.pod(flagged, "team-a")["metadata"]["namespace"] == "team-a"
    everywhere = mp.run("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert ["team-a", inside] in [line.split()[:2] for line in everywhere[1:]]
    assert_user_error(
        mp.run("get", "pod", inside, check=False), f'Error from server (NotFound): pods "{inside}" not found'
    )


def test_get_a_missing_pod(mp):
    p = mp.run("get", "pod", "missing", check=False)
    assert_user_error(p)
    assert p.stderr.strip() == 'Error from server (NotFound): pods "missing" not found'


# --- describe, events, version, image ls -----------------------------------------------------


def test_describe_pod(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, SLEEP))
    out = mp.run("describe", "pod", pod_name).stdout

    def field(key: str) -> str:
        return re.search(rf"^{key}:\s+(.*)$", out, re.M).group(1).strip()

    assert field("Name") == pod_name and field("Namespace") == "default"
    assert field("Status") == "Running"
    containers = out.split("\nContainers:\n", 1)[1].split("\nConditions:")[0]
    assert re.search(r"^  main:$", containers, re.M)
    assert re.search(r"^\s+State:\s+Running$", containers, re.M)
    assert re.search(r"^\s+Ready:\s+True$", containers, re.M)
    assert re.search(r"^\s+Restart Count:\s+0$", containers, re.M)
    conditions = out.split("\nConditions:\n", 1)[1]
    for ctype in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        assert re.search(rf"^\s+{ctype}\s+True$", conditions, re.M), ctype
    events = out.split("\nEvents:\n", 1)[1]
    reasons = [line.split()[1] for line in events.splitlines()[2:]]
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert reason in reasons, events
    assert reasons.index("Scheduled") < reasons.index("Created") < reasons.index("Started")


def test_events_list_a_pods_history(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, SLEEP))
    out = mp.run("events").stdout.splitlines()
    assert out[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    mine = [line.split() for line in out[1:] if f" pod/{pod_name} " in line]
    reasons = [r[2] for r in mine]
    assert "Scheduled" in reasons and "Started" in reasons, out


def test_version(mp):
    out = mp.run("version").stdout
    assert re.search(r"^Client Version: v\d+\.\d+\.\d+", out, re.M), out
    assert re.search(r"^Server Version: v\d+\.\d+\.\d+", out, re.M), out


def test_image_ls(mp):
    out = mp.run("image", "ls").stdout.splitlines()
    assert out[0].split()[:2] == ["REPOSITORY", "TAG"]
    assert ["docker.io/library/busybox", "1.35"] in [line.split()[:2] for line in out[1:]]


# --- delete -----------------------------------------------------------------------------------


def test_delete_pods_by_name_and_by_file(mp, pod_name, pods, tmp_path):
    a, b, c = pod_name + "-a", pod_name + "-b", pod_name + "-c"
    pods.add(a, b, c)
    mp.run_pod(manifest(pod_yaml(a, SLEEP), pod_yaml(b, SLEEP)))
    p = mp.run("delete", "pod", a, b, "--grace-period", "0")
    assert p.stdout.splitlines() == [f'pod "{a}" deleted', f'pod "{b}" deleted']
    path = write(tmp_path, pod_yaml(c, SLEEP))
    mp.run("run", path)
    assert mp.run("delete", "-f", path, "--grace-period", "0").stdout == f'pod "{c}" deleted\n'
    for name in (a, b, c):
        assert_user_error(
            mp.run("get", "pod", name, check=False), f'Error from server (NotFound): pods "{name}" not found'
        )
    assert not names(mp) & {a, b, c}


IGNORES_TERM = "trap '' TERM; sleep 3600"


def test_delete_grace_period_0_is_immediate(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, IGNORES_TERM))
    start = time.monotonic()
    mp.run("delete", "pod", pod_name, "--grace-period", "0")
    assert time.monotonic() - start < 5


def test_delete_waits_the_grace_period_then_kills(mp, pod_name, pods):
    pods.add(pod_name)
    mp.run_pod(pod_yaml(pod_name, IGNORES_TERM))
    start = time.monotonic()
    mp.run("delete", "pod", pod_name, "--grace-period", "2")
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed < 10, elapsed
    assert mp.run("get", "pod", pod_name, check=False).returncode == 1


def test_delete_a_missing_pod(mp):
    assert_user_error(
        mp.run("delete", "pod", "missing", check=False),
        'Error from server (NotFound): pods "missing" not found',
    )
    p = mp.run("delete", "pod", "missing", "--ignore-not-found")
    assert p.returncode == 0 and p.stderr == ""


# --- exit codes of user errors --------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["logs", "missing"],
        ["exec", "missing", "--", "true"],
        ["describe", "pod", "missing"],
        ["inspect", "missing"],
        ["get", "pod", "missing", "-o", "json"],
    ],
    ids=lambda a: a[0],
)
def test_a_missing_pod_is_a_user_error(mp, args):
    assert_user_error(mp.run(*args, check=False), 'Error from server (NotFound): pods "missing" not found')


def test_a_missing_file_is_a_user_error(mp, tmp_path):
    missing = str(tmp_path / "nope.yaml")
    for args in (["run", missing], ["apply", "-f", missing], ["delete", "-f", missing]):
        p = mp.run(*args, check=False)
        assert_user_error(p, missing)
        assert p.stderr.startswith("error:"), p.stderr


def test_a_bad_flag_value_exits_1(mp):
    p = mp.run("get", "pods", "-o", "bogus", check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "error" in p.stderr.lower() and "bogus" in p.stderr
