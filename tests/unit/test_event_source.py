"""Who reports each event: `describe`'s "From" column says `kubelet` for
what the kubelet does and `default-scheduler` for the binding, as on a
cluster (never the runtime's own name)."""

from minipod.cli.printers import describe_pod
from minipod.pod.events import EventRecorder, source_of

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default", "uid": "u-1"},
    "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]},
    "status": {"phase": "Running"},
}


def test_scheduler_reasons_come_from_the_default_scheduler_the_rest_from_the_kubelet():
    assert source_of("Scheduled") == "default-scheduler"
    assert source_of("FailedScheduling") == "default-scheduler"
    for reason in ("Pulled", "Created", "Started", "Killing", "BackOff", "Unhealthy", "OutOfcpu"):
        assert source_of(reason) == "kubelet", reason


def test_recorded_events_carry_their_source_and_describe_prints_it(tmp_path):
    rec = EventRecorder(str(tmp_path))
    rec.record(POD, "Normal", "Scheduled", "Successfully assigned default/p to node")
    rec.record(POD, "Normal", "Started", "Started container c", "c")
    scheduled, started = rec.events
    assert scheduled["source"] == {"component": "default-scheduler"}
    assert started["source"] == {"component": "kubelet"}
    assert started["reportingComponent"] == "kubelet"
    out = describe_pod(POD, rec.events)
    rows = [line.split() for line in out.split("Events:")[1].splitlines() if line.strip()]
    assert rows[0] == ["Type", "Reason", "Age", "From", "Message"]
    assert rows[2][:2] == ["Normal", "Scheduled"] and "default-scheduler" in rows[2]
    assert rows[3][:2] == ["Normal", "Started"] and "kubelet" in rows[3]
    assert "minipod" not in out.split("Events:")[1]
