"""The CronJob controller: a Job at every scheduled time.

Steps of reconcile(key), in order (pkg/controller/cronjob, v2):
    1. read the CronJob; gone or being deleted: nothing to do;
    2. its Jobs: the finished ones leave status.active (SawCompletedJob;
       lastSuccessfulTime), and beyond successfulJobsHistoryLimit /
       failedJobsHistoryLimit the oldest finished ones are deleted;
    3. suspended: nothing more;
    4. the latest scheduled time (kube/cron.py, in spec.timeZone) since the
       last one (or creation), if any, and not older than
       startingDeadlineSeconds: its Job `<cronjob>-<minutes since epoch>`
       is created (once: the name says which time it is for) from
       spec.jobTemplate, unless concurrencyPolicy Forbid finds one still
       running (it waits) or Replace, which deletes the running ones first;
    5. write status (active, lastScheduleTime, lastSuccessfulTime) and look
       again at the next scheduled time.
"""

import copy
import time

from minipod.controllers.owners import owner_ref
from minipod.controllers.reconciler import Reconciler
from minipod.kube import cron
from minipod.kube.times import parse_rfc3339, rfc3339
from minipod.objects import resources as kinds

JOBS = kinds.builtin("batch", "v1", "jobs")
CRONJOBS = kinds.builtin("batch", "v1", "cronjobs")
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100


def finished(job: dict) -> str | None:
    """ "Complete" or "Failed" once the Job is over."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def job_name(cronjob: dict, scheduled: float) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled // 60)}"


def job_from_template(cronjob: dict, scheduled: float) -> dict:
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    meta = template.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    annotations[SCHEDULED_AT] = rfc3339(scheduled)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cronjob, scheduled),
            "labels": dict(meta.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [owner_ref(cronjob)],
        },
        "spec": template["spec"],
    }


def job_ref(job: dict) -> dict:
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta["uid"],
        "resourceVersion": meta.get("resourceVersion"),
    }


class CronJobController(Reconciler):
    name = "cronjob-controller"
    primary = CRONJOBS
    secondary = (JOBS,)

    def reconcile(self, key: str) -> float | None:
        cj = self.get(CRONJOBS, key)  # 1
        if cj is None or cj["metadata"].get("deletionTimestamp"):
            return None
        spec, status, now = cj["spec"], dict(cj.get("status") or {}), time.time()
        jobs = self.jobs_of(cj)
        status = self.sync_finished(cj, status, jobs)  # 2
        self.clean_history(cj, jobs)
        again = None
        if not spec.get("suspend"):  # 3
            status, again = self.maybe_start(cj, status, now)  # 4
        self.write_status(CRONJOBS, cj, {k: v for k, v in status.items() if v})  # 5
        return again

    def jobs_of(self, cj: dict) -> list[dict]:
        uid, ns = cj["metadata"]["uid"], cj["metadata"]["namespace"]
        return [
            j
            for (j_ns, _), j in list(self.store.objects[JOBS.key].items())
            if j_ns == ns
            and any(
                r.get("uid") == uid and r.get("controller")
                for r in j["metadata"].get("ownerReferences") or []
            )
        ]

    def sync_finished(self, cj: dict, status: dict, jobs: list[dict]) -> dict:
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        active = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                continue  # deleted by someone
            outcome = finished(job)
            if outcome is None:
                active.append(ref)
                continue
            self.event(
                cj,
                "Normal",
                "SawCompletedJob",
                f"Saw completed job: {job['metadata']['name']}, status: {outcome}",
            )
            if outcome == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                if done and done > (status.get("lastSuccessfulTime") or ""):
                    status["lastSuccessfulTime"] = done
        known = {r.get("uid") for r in active}
        for job in jobs:  # running Jobs it does not list yet (a restart between create and status)
            if finished(job) is None and job["metadata"]["uid"] not in known:
                active.append(job_ref(job))
        return dict(status, active=active)

    def clean_history(self, cj: dict, jobs: list[dict]) -> None:
        spec = cj["spec"]
        for outcome, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
            ("Failed", spec.get("failedJobsHistoryLimit", 1)),
        ):
            done = sorted(
                (j for j in jobs if finished(j) == outcome and not j["metadata"].get("deletionTimestamp")),
                key=lambda j: (j.get("status") or {}).get("startTime") or j["metadata"]["creationTimestamp"],
            )
            for job in done[: max(0, len(done) - limit)]:
                self.store.delete(JOBS, job["metadata"]["namespace"], job["metadata"]["name"])
                self.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}")

    def maybe_start(self, cj: dict, status: dict, now: float) -> tuple[dict, float | None]:
        spec = cj["spec"]
        schedule, zone = cron.parse(spec["schedule"]), spec.get("timeZone")
        since = parse_rfc3339(status.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"])
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            since = max(since, now - deadline)
        scheduled, missed = cron.due(schedule, since, now, zone, TOO_MANY_MISSED)
        again = cron.next_after(schedule, now, zone) - now + 0.05
        if scheduled is None:
            return status, again
        if missed > TOO_MANY_MISSED:
            self.event(
                cj,
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        ns = cj["metadata"]["namespace"]
        if self.store.exists(JOBS, ns, job_name(cj, scheduled)):
            return dict(status, lastScheduleTime=rfc3339(scheduled)), again
        running = list(status.get("active") or [])
        policy = spec.get("concurrencyPolicy", "Allow")
        if running and policy == "Forbid":
            self.event(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return status, again
        if running and policy == "Replace":
            for ref in running:
                if self.store.exists(JOBS, ns, ref["name"]):
                    self.store.delete(JOBS, ns, ref["name"])
                    self.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {ref['name']}")
            running = []
        job = self.store.create(JOBS, job_from_template(cj, scheduled), ns)
        self.event(cj, "Normal", "SuccessfulCreate", f"Created job {job['metadata']['name']}")
        return dict(status, active=[*running, job_ref(job)], lastScheduleTime=rfc3339(scheduled)), again
