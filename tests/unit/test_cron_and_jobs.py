"""Cron schedules (kube/cron.py) and the Job controller's decisions
(controllers/job_math.py), pure."""

import datetime

import pytest

from minipod.controllers import job_math
from minipod.kube import cron


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(
    "schedule, after, expected",
    [
        ("*/15 * * * *", "2026-11-26T10:07:00", "2026-11-26T10:15:00"),
        ("0 9 * * mon-fri", "2026-11-27T09:00:00", "2026-11-30T09:00:00"),  # Friday -> Monday
        ("@hourly", "2026-11-26T10:00:00", "2026-11-26T11:00:00"),
        ("0 0 1 jan *", "2026-11-26T00:00:00", "2027-01-01T00:00:00"),
        ("30 2 13 * 5", "2026-11-26T00:00:00", "2026-11-27T02:30:00"),  # day 13 OR Friday
        ("0 0 * * 7", "2026-11-26T00:00:00", "2026-11-29T00:00:00"),  # 7 is Sunday
    ],
)
def test_next_after(schedule, after, expected):
    assert cron.next_after(cron.parse(schedule), at(after)) == at(expected)


def test_time_zones_and_missed_times():
    s = cron.parse("0 9 * * *")
    nine_in_tokyo = cron.next_after(s, at("2026-11-26T00:00:00"), "Asia/Tokyo")
    assert nine_in_tokyo == at("2026-11-27T00:00:00")  # 09:00 JST is 00:00 UTC
    latest, count = cron.due(cron.parse("* * * * *"), at("2026-11-26T10:00:00"), at("2026-11-26T10:05:30"))
    assert (latest, count) == (at("2026-11-26T10:05:00"), 5)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("* * * *", "expected exactly 5 fields"),
        ("61 * * * *", "above maximum (59)"),
        ("* * * foo *", "failed to parse int from foo"),
        ("TZ=UTC * * * * *", "use spec.timeZone"),
        ("*/0 * * * *", "bad step"),
    ],
)
def test_bad_schedules(bad, message):
    assert message in cron.problem(bad)


def pod(phase: str, index: int | None = None, code: int | None = None, restarts: int = 0) -> dict:
    meta: dict = {"name": f"p{index}", "namespace": "default"}
    if index is not None:
        meta["annotations"] = {job_math.INDEX_KEY: str(index)}
    status: dict = {
        "phase": phase,
        "containerStatuses": [{"name": "main", "restartCount": restarts, "state": {}}],
    }
    if code is not None:
        status["containerStatuses"][0]["state"] = {
            "terminated": {"exitCode": code, "finishedAt": "2026-11-26T10:00:00Z"}
        }
    return {"metadata": meta, "status": status}


def test_what_to_create_respects_parallelism_and_what_is_left():
    spec = {"completions": 3, "parallelism": 2, "completionMode": "NonIndexed"}
    assert job_math.to_create(spec, []) == [None, None]
    assert job_math.to_create(spec, [pod("Succeeded"), pod("Succeeded"), pod("Running")]) == []
    assert job_math.to_create(spec, [pod("Succeeded"), pod("Succeeded")]) == [None]
    indexed = dict(spec, completionMode="Indexed")
    assert job_math.to_create(indexed, [pod("Succeeded", 0), pod("Running", 2)]) == [1]


def test_finished_reasons():
    spec = {"completions": 2, "parallelism": 1, "backoffLimit": 1, "completionMode": "NonIndexed"}
    assert job_math.finished_reason(spec, {}, [pod("Succeeded")], 0) is None
    assert job_math.finished_reason(spec, {}, [pod("Succeeded"), pod("Succeeded")], 0).success
    failing = job_math.finished_reason(spec, {}, [pod("Failed", code=1), pod("Failed", code=1)], 0)
    assert (failing.success, failing.reason) == (False, "BackoffLimitExceeded")
    ignore = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [9]}}]}
    assert job_math.failures(dict(spec, podFailurePolicy=ignore), [pod("Failed", code=9)] * 3) == 0
    on_failure = dict(spec, template={"spec": {"restartPolicy": "OnFailure"}})
    assert job_math.failures(on_failure, [pod("Running", restarts=2)]) == 2
    policy = dict(
        spec, completionMode="Indexed", completions=5, successPolicy={"rules": [{"succeededIndexes": "0,2"}]}
    )
    done = job_math.finished_reason(policy, {}, [pod("Succeeded", 0), pod("Succeeded", 2)], 0)
    assert (done.reason, done.message) == ("SuccessPolicy", "Matched rules at index 0")
    late = job_math.finished_reason(
        dict(spec, activeDeadlineSeconds=5),
        {"startTime": "2026-11-26T10:00:00Z"},
        [],
        at("2026-11-26T10:00:06"),
    )
    assert late.reason == "DeadlineExceeded"


def test_back_off_and_index_ranges():
    assert [job_math.backoff_delay(n) for n in range(5)] == [0, 10, 20, 40, 80]
    assert job_math.backoff_delay(20) == job_math.MAX_BACKOFF
    assert job_math.format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
