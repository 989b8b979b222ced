"""What the scheduler does when asked again with nobody waiting: nothing
that grows with the number of pods running (no request is added up)."""

from types import SimpleNamespace

from minipod.kube import resources
from minipod.pod import admission, scheduler
from minipod.pod import record as rec


def worker(name: str, scheduled: bool | None) -> SimpleNamespace:
    spec = {"containers": [{"name": "main", "image": "busybox"}]}
    r = rec.PodRecord(
        pod={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"},
            "spec": spec,
        },
        runtime=rec.PodRuntime(
            containers=[rec.new_container(c, False, False) for c in spec["containers"]],
            scheduled=scheduled,
        ),
    )
    events: list = []
    return SimpleNamespace(
        record=r, rt=r.runtime, events=events, event=lambda *a: events.append(a), save=lambda: None
    )


def test_nobody_waiting_adds_up_no_requests(monkeypatch):
    running = [worker(f"p{i}", True) for i in range(300)]

    def counted(spec):
        raise AssertionError("the requests of running pods were added up with nobody waiting")

    monkeypatch.setattr(resources, "pod_requests", counted)
    outcome = scheduler.schedule_pending(running, admission.this_node())
    assert outcome.admitted == [] and outcome.preemptions == []


def test_a_waiting_pod_is_still_admitted_beside_running_ones():
    running = [worker(f"p{i}", True) for i in range(5)]
    new = worker("new", False)
    outcome = scheduler.schedule_pending([*running, new], admission.this_node())
    assert outcome.admitted == [new]
    assert new.rt.scheduled is True
    assert new.record.spec["nodeName"] == admission.this_node().name
    assert [e[1] for e in new.events] == ["Scheduled"]
