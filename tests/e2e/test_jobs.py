"""Jobs and CronJobs through the real kubectl, with real pods: completions
and parallelism, backoffLimit, Indexed Jobs, pod failure policies,
deadlines, TTL, and a CronJob that starts a Job within its minute."""

import json
import time

from helpers.host import eventually
from helpers.kubectl import kubectl
from helpers.pods import BUSYBOX


def job(name: str, script: str, **spec) -> dict:
    template = {
        "spec": {
            "restartPolicy": spec.pop("restartPolicy", "Never"),
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": BUSYBOX, "command": ["sh", "-c", script]}],
        }
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": template, **spec},
    }


def get(mp, kind: str, name: str) -> dict:
    return json.loads(kubectl(mp, "get", kind, name, "-o", "json").stdout)


def pods_of(mp, name: str) -> list[dict]:
    return json.loads(kubectl(mp, "get", "pods", "-l", f"job-name={name}", "-o", "json").stdout)["items"]


def condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


def finished(mp, name: str, kind: str, timeout: float = 60) -> dict:
    def done():
        j = get(mp, "job", name)
        c = condition(j, kind)
        return j if c and c["status"] == "True" else None

    return eventually(done, timeout=timeout, what=f"job {name} {kind}")


def apply(mp, obj: dict) -> None:
    kubectl(mp, "apply", "-f", "-", input=json.dumps(obj))


def test_completions_three_parallelism_two(mp):
    name = "job-three"
    apply(mp, job(name, "sleep 1", completions=3, parallelism=2))
    try:
        most = 0
        deadline = time.time() + 60
        while time.time() < deadline:
            running = [p for p in pods_of(mp, name) if p["status"].get("phase") in ("Pending", "Running")]
            most = max(most, len(running))
            if condition(get(mp, "job", name), "Complete"):
                break
            time.sleep(0.2)
        j = finished(mp, name, "Complete")
        assert j["status"]["succeeded"] == 3 and most <= 2, (j["status"], most)
        assert condition(j, "SuccessCriteriaMet")["reason"] == "CompletionsReached"
        assert sum(p["status"]["phase"] == "Succeeded" for p in pods_of(mp, name)) == 3
        row = kubectl(mp, "get", "job", name).stdout.splitlines()
        assert row[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
        assert row[1].split()[:3] == [name, "Complete", "3/3"]
    finally:
        kubectl(mp, "delete", "job", name, "--wait=true")
    # The garbage collector takes its pods, after the Job (kubectl deletes
    # in the background, as on a cluster).
    eventually(lambda: pods_of(mp, name) == [], timeout=30, what="the job's pods collected")


def test_a_failing_job_stops_at_its_backoff_limit(mp):
    name = "job-fails"
    apply(mp, job(name, "exit 3", backoffLimit=1))
    try:
        j = finished(mp, name, "Failed")
        assert condition(j, "Failed")["reason"] == "BackoffLimitExceeded"
        assert condition(j, "FailureTarget")["message"] == "Job has reached the specified backoff limit"
        assert j["status"]["failed"] == 2 and len(pods_of(mp, name)) == 2
        events = kubectl(mp, "get", "events", "--field-selector", f"involvedObject.name={name}").stdout
        assert "BackoffLimitExceeded" in events
    finally:
        kubectl(mp, "delete", "job", name)


def test_an_indexed_job_gives_each_pod_its_index(mp):
    name = "job-indexed"
    apply(
        mp,
        job(
            name,
            'echo "index=$JOB_COMPLETION_INDEX host=$(hostname)"',
            completions=3,
            parallelism=3,
            completionMode="Indexed",
        ),
    )
    try:
        j = finished(mp, name, "Complete")
        assert j["status"]["completedIndexes"] == "0-2"
        seen = set()
        for p in pods_of(mp, name):
            index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            out = kubectl(mp, "logs", p["metadata"]["name"]).stdout.strip()
            assert out == f"index={index} host={name}-{index}", out
            seen.add(index)
        assert seen == {"0", "1", "2"}
    finally:
        kubectl(mp, "delete", "job", name)


def test_pod_failure_policy_fail_job_on_an_exit_code(mp):
    name = "job-policy"
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    apply(mp, job(name, "exit 42", backoffLimit=6, podFailurePolicy=policy))
    try:
        j = finished(mp, name, "Failed")
        failed = condition(j, "Failed")
        assert failed["reason"] == "PodFailurePolicy"
        assert "failed with exit code 42 matching FailJob rule at index 0" in failed["message"]
        assert len(pods_of(mp, name)) == 1  # no retry
    finally:
        kubectl(mp, "delete", "job", name)


def test_active_deadline_and_ttl_after_finished(mp):
    name = "job-deadline"
    apply(mp, job(name, "sleep 300", activeDeadlineSeconds=2, ttlSecondsAfterFinished=3))
    j = finished(mp, name, "Failed", timeout=30)
    assert condition(j, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(j, "Failed")["message"] == "Job was active longer than specified deadline"
    # Then the TTL controller deletes it, and its pods go with it.
    eventually(
        lambda: kubectl(mp, "get", "job", name, check=False).returncode == 1, timeout=30, what="job deleted"
    )
    eventually(lambda: pods_of(mp, name) == [], timeout=30, what="pods deleted")


def test_a_job_with_a_bad_restart_policy_is_refused(mp):
    r = kubectl(
        mp, "apply", "-f", "-", input=json.dumps(job("job-bad", "true", restartPolicy="Always")), check=False
    )
    assert r.returncode == 1
    assert (
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"'
        in r.stderr
    )


def test_a_cronjob_starts_a_job_within_its_minute(mp):
    name = "cron-every-minute"
    cj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": job(name, "echo tick")["spec"]}},
    }
    apply(mp, cj)
    try:
        row = kubectl(mp, "get", "cronjob", name).stdout.splitlines()
        assert row[0].split() == [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST",
            "SCHEDULE",
            "AGE",
        ]

        def a_job():
            jobs = json.loads(kubectl(mp, "get", "jobs", "-o", "json").stdout)["items"]
            mine = [j for j in jobs if j["metadata"]["name"].startswith(name + "-")]
            return mine[0] if mine else None

        j = eventually(a_job, timeout=70, interval=1, what="a Job from the CronJob")
        owner = j["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("CronJob", name)
        finished(mp, j["metadata"]["name"], "Complete")
        status = eventually(
            lambda: (
                get(mp, "cronjob", name)["status"].get("lastSuccessfulTime")
                and get(mp, "cronjob", name)["status"]
            ),
            timeout=20,
            what="lastSuccessfulTime",
        )
        assert status["lastScheduleTime"]
    finally:
        kubectl(mp, "delete", "cronjob", name)
    eventually(
        lambda: (
            not [
                p
                for p in json.loads(kubectl(mp, "get", "jobs", "-o", "json").stdout)["items"]
                if p["metadata"]["name"].startswith(name)
            ]
        ),
        timeout=30,
        what="its jobs deleted",
    )
