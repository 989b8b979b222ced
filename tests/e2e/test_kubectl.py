"""Issue 12: the real kubectl drives minipod unchanged. Each test runs the
kubectl binary against the session's instance, with its admin kubeconfig."""

import json
import os
import re

from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.pods import ctr, manifest, pod, web_pod


def test_version_and_api_resources(mp):
    out = kubectl(mp, "version").stdout
    assert "Server Version: v1.32.0" in out
    res = kubectl(mp, "api-resources").stdout
    assert re.search(r"^pods\s+po\s+v1\s+true\s+Pod$", res, re.M), res
    assert re.search(r"^namespaces\s+ns\s+v1\s+false\s+Namespace$", res, re.M), res


def test_explain_reads_the_official_schema(mp):
    out = kubectl(mp, "explain", "pod.spec.containers.readinessProbe").stdout
    assert "FIELD: readinessProbe <Probe>" in out
    assert "Periodic probe of container service readiness" in out
    assert re.search(r"^  failureThreshold\s+<integer>", out, re.M), out


def test_system_namespaces_and_serviceaccounts(mp):
    out = kubectl(mp, "get", "ns").stdout.split("\n")
    assert out[0].split() == ["NAME", "STATUS", "AGE"]
    names = {line.split()[0] for line in out[1:] if line}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    assert (
        kubectl(mp, "get", "sa", "default", "-n", "kube-system", "-o", "name").stdout
        == "serviceaccount/default\n"
    )


def test_apply_twice_then_configured(mp, pods, tmp_path):
    name = "kc-apply"
    pods.add(name)
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(web_pod(name)))
    assert kubectl(mp, "apply", "-f", str(path)).stdout == f"pod/{name} created\n"
    assert kubectl(mp, "apply", "-f", str(path)).stdout == f"pod/{name} unchanged\n"
    changed = web_pod(name)
    changed["metadata"]["labels"] = {"tier": "front"}
    path.write_text(json.dumps(changed))
    assert kubectl(mp, "apply", "-f", str(path)).stdout == f"pod/{name} configured\n"
    kubectl(mp, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")
    got = json.loads(kubectl(mp, "get", "pod", name, "-o", "json").stdout)
    assert got["metadata"]["labels"] == {"tier": "front"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]


def test_server_side_apply_and_conflicts(mp, pods, tmp_path):
    name = "kc-ssa"
    pods.add(name)
    doc = web_pod(name)
    doc["metadata"]["labels"] = {"app": "one"}
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(doc))
    assert kubectl(mp, "apply", "--server-side", "-f", str(path)).stdout == f"pod/{name} serverside-applied\n"
    got = json.loads(kubectl(mp, "get", "pod", name, "-o", "json", "--show-managed-fields").stdout)
    managers = {(m["manager"], m["operation"]) for m in got["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    # Another manager takes the label: applying it again is a conflict...
    kubectl(mp, "label", "pod", name, "app=two", "--overwrite")
    p = kubectl(mp, "apply", "--server-side", "-f", str(path), check=False)
    assert p.returncode == 1 and "conflict with" in p.stderr and ".metadata.labels.app" in p.stderr, p.stderr
    # ... unless forced.
    kubectl(mp, "apply", "--server-side", "--force-conflicts", "-f", str(path))
    assert kubectl(mp, "get", "pod", name, "-o", "jsonpath={.metadata.labels.app}").stdout == "one"


def test_get_yaml_is_a_list_that_applies_back(mp, pods, tmp_path):
    """`kubectl get -o yaml` writes a `kind: List`, which kubectl validates on
    the client against /openapi/v2 in protobuf before applying it."""
    name = "kc-list"
    pods.add(name)
    kubectl(mp, "run", name, "--image=busybox:1.35", "--labels=app=list", "--", "sleep", "3600")
    # Settled first: the file carries resourceVersion, and a cluster refuses
    # a stale one (409), exactly as here.
    kubectl(mp, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")
    listed = tmp_path / "list.yaml"
    listed.write_text(kubectl(mp, "get", "pods", "-l", "app=list", "-o", "yaml").stdout)
    assert "kind: List" in listed.read_text()
    out = kubectl(mp, "apply", "-f", str(listed)).stdout
    assert out in (f"pod/{name} configured\n", f"pod/{name} unchanged\n"), out
    # The client's own validation runs: an unknown field inside an item.
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
        "  metadata: {name: kc-list-bad}\n  dta: {a: b}\n"
    )
    p = kubectl(mp, "apply", "-f", str(bad), check=False)
    assert p.returncode == 1 and 'unknown field "dta"' in p.stderr, p.stderr
    assert kubectl(mp, "get", "configmap", "kc-list-bad", check=False).returncode == 1


def test_kubectl_create_subcommands_send_protobuf(mp, pods):
    """`kubectl create job|cronjob|service|priorityclass` send protobuf
    bodies (typed clients); each is read as its JSON would be."""
    assert kubectl(mp, "create", "priorityclass", "kc-high", "--value=1000", "--description=high").stdout == (
        "priorityclass.scheduling.k8s.io/kc-high created\n"
    )
    pc = json.loads(kubectl(mp, "get", "priorityclass", "kc-high", "-o", "json").stdout)
    assert (pc["value"], pc["description"], pc["preemptionPolicy"]) == (1000, "high", "PreemptLowerPriority")
    out = kubectl(mp, "create", "service", "clusterip", "kc-svc", "--tcp=80:8080").stdout
    assert out == "service/kc-svc created\n"
    svc = json.loads(kubectl(mp, "get", "svc", "kc-svc", "-o", "json").stdout)["spec"]
    assert svc["ports"][0]["port"] == 80 and svc["ports"][0]["targetPort"] == 8080
    assert svc["selector"] == {"app": "kc-svc"}
    schedule = "*/5 * * * *"
    out = kubectl(
        mp, "create", "cronjob", "kc-cj", "--image=busybox:1.35", f"--schedule={schedule}", "--", "true"
    )
    assert out.stdout == "cronjob.batch/kc-cj created\n"
    cj = json.loads(kubectl(mp, "get", "cronjob", "kc-cj", "-o", "json").stdout)["spec"]
    assert cj["schedule"] == schedule
    assert cj["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == ["true"]
    pods.add("kc-job")  # its pod is deleted with the job below
    assert (
        kubectl(mp, "create", "job", "kc-job", "--from=cronjob/kc-cj").stdout == "job.batch/kc-job created\n"
    )
    kubectl(mp, "wait", "--for=condition=complete", "job/kc-job", "--timeout=60s")
    for kind, name in (
        ("job", "kc-job"),
        ("cronjob", "kc-cj"),
        ("svc", "kc-svc"),
        ("priorityclass", "kc-high"),
    ):
        kubectl(mp, "delete", kind, name)


def test_create_run_get_outputs(mp, pods):
    pods.add("kc-run", "kc-create")
    assert (
        kubectl(mp, "run", "kc-run", "--image=busybox:1.35", "--", "sleep", "3600").stdout
        == "pod/kc-run created\n"
    )
    text = json.dumps(pod("kc-create", ctr("main", "exec sleep 3600"), labels={"app": "kc"}))
    assert kubectl(mp, "create", "-f", "-", input=text).stdout == "pod/kc-create created\n"
    kubectl(mp, "wait", "--for=condition=Ready", "pod/kc-run", "pod/kc-create", "--timeout=30s")
    table = kubectl(mp, "get", "pods").stdout.split("\n")
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    row = next(line.split() for line in table if line.startswith("kc-run "))
    assert row[1:4] == ["1/1", "Running", "0"]
    wide = kubectl(mp, "get", "pod", "kc-run", "-o", "wide").stdout.split("\n")[0]
    assert wide.split() == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    assert kubectl(mp, "get", "pods", "-l", "app=kc", "-o", "name").stdout == "pod/kc-create\n"
    ip = kubectl(mp, "get", "pod", "kc-run", "-o", "jsonpath={.status.podIP}").stdout
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip)
    cols = kubectl(mp, "get", "pod", "kc-run", "-o", "custom-columns=N:.metadata.name,P:.status.phase").stdout
    assert cols.split("\n")[1].split() == ["kc-run", "Running"]
    yml = kubectl(mp, "get", "pod", "kc-run", "-o", "yaml").stdout
    assert "kind: Pod" in yml and "resourceVersion:" in yml
    running = kubectl(
        mp, "get", "pods", "-A", "--field-selector", "status.phase=Running,metadata.name=kc-run"
    ).stdout
    assert running.split("\n")[0].split()[0] == "NAMESPACE" and "kc-run" in running


def test_describe_pod_and_node(mp, pods):
    pods.run(pod("kc-describe", ctr("main", "exec sleep 3600")))
    out = kubectl(mp, "describe", "pod", "kc-describe").stdout
    assert re.search(r"^Status:\s+Running$", out, re.M) and "Started container main" in out
    node = kubectl(mp, "describe", "node").stdout
    assert (
        re.search(r"^Roles:\s+control-plane$", node, re.M)
        and "Capacity:" in node
        and "kubelet is posting ready status" in node
    )


def test_label_annotate_and_three_patches(mp, pods):
    pods.run(pod("kc-patch", ctr("main", "exec sleep 3600")))
    kubectl(mp, "label", "pod", "kc-patch", "a=1")
    kubectl(mp, "annotate", "pod", "kc-patch", "note=hi")
    kubectl(mp, "patch", "pod", "kc-patch", "-p", '{"metadata":{"labels":{"b":"2"}}}')
    kubectl(mp, "patch", "pod", "kc-patch", "--type=merge", "-p", '{"metadata":{"labels":{"c":"3"}}}')
    kubectl(
        mp, "patch", "pod", "kc-patch", "--type=json", "-p", '[{"op":"remove","path":"/metadata/labels/a"}]'
    )
    got = json.loads(kubectl(mp, "get", "pod", "kc-patch", "-o", "json").stdout)
    assert got["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert got["metadata"]["annotations"]["note"] == "hi"
    p = kubectl(mp, "patch", "pod", "kc-patch", "-p", '{"spec":{"restartPolicy":"Never"}}', check=False)
    assert p.returncode == 1 and "Forbidden: pod updates may not change fields" in p.stderr, p.stderr


def test_edit_with_an_editor_script(mp, pods, tmp_path):
    pods.run(pod("kc-edit", ctr("main", "exec sleep 3600")))
    editor = tmp_path / "editor.sh"
    editor.write_text(
        '#!/bin/sh\nsed -i \'s/^  labels:$/  labels:\\n    edited: "yes"/; s/^  name: kc-edit$/  name: kc-edit\\n  labels:\\n    edited: "yes"/\' "$1"\n'
    )
    editor.chmod(0o755)
    kubectl(mp, "edit", "pod", "kc-edit", KUBE_EDITOR=str(editor), EDITOR=str(editor))
    assert kubectl(mp, "get", "pod", "kc-edit", "-o", "jsonpath={.metadata.labels.edited}").stdout == "yes"


def test_typo_is_the_strict_validation_error(mp, tmp_path):
    bad = pod("kc-typo", ctr("main", "sleep 1", imagePullPolicyy="Never"))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    p = kubectl(mp, "apply", "-f", str(path), check=False)
    assert p.returncode == 1
    assert 'strict decoding error: unknown field "spec.containers[0].imagePullPolicyy"' in p.stderr, p.stderr
    assert "kc-typo" not in kubectl(mp, "get", "pods", "-o", "name").stdout


def test_wait_delete_and_watch_events(mp, pods):
    pods.run(pod("kc-gone", ctr("main", "exec sleep 3600"), terminationGracePeriodSeconds=1))
    watch = os.path.join(mp.root, "watch.out")
    import subprocess

    from helpers.kubectl import KUBECTL, env

    with open(watch, "w") as f:
        w = subprocess.Popen(
            [
                KUBECTL,
                "get",
                "pods",
                "-w",
                "--output-watch-events",
                "--field-selector",
                "metadata.name=kc-gone",
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env(mp),
        )
    try:
        # The watch is there before the delete, and sees it to the end.
        eventually(lambda: "ADDED" in open(watch).read(), what="the watch's first event")
        waiter = subprocess.Popen(
            [KUBECTL, "wait", "--for=delete", "pod/kc-gone", "--timeout=30s"],
            env=env(mp),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert (
            kubectl(mp, "delete", "pod", "kc-gone", "--grace-period=1", "--wait").stdout
            == 'pod "kc-gone" deleted\n'
        )
        assert waiter.wait(30) == 0
        eventually(lambda: "DELETED" in open(watch).read(), what="the DELETED event")
    finally:
        w.terminate()
        w.wait(10)
    lines = open(watch).read().split("\n")
    events = [line.split()[0] for line in lines[1:] if line]
    assert events[0] == "ADDED" and events[-1] == "DELETED", lines
    assert "Terminating" in "\n".join(lines)


def test_get_events_and_auth_can_i(mp, pods):
    pods.run(pod("kc-events", ctr("main", "exec sleep 3600")))
    out = kubectl(mp, "get", "events", "--field-selector", "involvedObject.name=kc-events").stdout.split("\n")
    assert out[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Started" in line and "pod/kc-events" in line for line in out), out
    assert kubectl(mp, "auth", "can-i", "create", "pods").stdout == "yes\n"


def test_whoami_and_impersonation(mp):
    """`kubectl auth whoami`, and `--as`: the admin acts as a ServiceAccount
    and is answered as one."""
    out = kubectl(mp, "auth", "whoami").stdout
    assert re.search(r"^Username\s+minipod-admin$", out, re.M), out
    assert "system:masters" in out
    sa = "system:serviceaccount:default:default"
    out = kubectl(mp, "auth", "whoami", f"--as={sa}").stdout
    assert re.search(rf"^Username\s+{sa}$", out, re.M) and "system:serviceaccounts:default" in out, out
    p = kubectl(mp, "auth", "can-i", "create", "pods", f"--as={sa}", check=False)
    assert (p.returncode, p.stdout) == (1, "no\n")
    assert kubectl(mp, "auth", "can-i", "list", "pods", f"--as={sa}").stdout == "yes\n"
    p = kubectl(mp, "create", "configmap", "kc-as", f"--as={sa}", check=False)
    assert p.returncode == 1 and f'User "{sa}" cannot create resource "configmaps"' in p.stderr, p.stderr


def test_minipod_cli_sees_pods_made_by_kubectl(mp, pods, tmp_path):
    pods.add("kc-both")
    kubectl(mp, "run", "kc-both", "--image=busybox:1.35", "--", "sleep", "3600")
    kubectl(mp, "wait", "--for=condition=Ready", "pod/kc-both", "--timeout=30s")
    assert mp.pod("kc-both")["status"]["phase"] == "Running"
    mp.apply(manifest(pod("kc-cli", ctr("main", "exec sleep 3600"))))
    pods.add("kc-cli")
    assert kubectl(mp, "get", "pod", "kc-cli", "-o", "name").stdout == "pod/kc-cli\n"
