"""The Job controller: run pods until enough of them succeed, or give up.

Steps of reconcile(key), in order (pkg/controller/job):
    1. read the Job; gone or being deleted: nothing to do (the garbage
       collector deletes its pods). A finished Job only waits for its
       ttlSecondsAfterFinished, then is deleted with its pods;
    2. claim its pods (the generated selector picks them);
    3. suspended: delete the active pods, say so (Suspended condition);
       resumed: the Suspended condition turns False and the clock restarts;
    4. over? (job_math.finished_reason: backoffLimit, activeDeadlineSeconds,
       a podFailurePolicy FailJob rule, completions, every index, a
       successPolicy rule): the interim condition (FailureTarget or
       SuccessCriteriaMet) first, the active pods deleted, and once none is
       left the final one (Failed or Complete) with its event;
    5. otherwise create what is missing (job_math.to_create), after the
       exponential back-off since the last failure; an Indexed Job's pods
       carry their index (annotation, label, JOB_COMPLETION_INDEX, hostname);
    6. write status: active, ready, succeeded, failed, startTime,
       completionTime, completedIndexes, conditions.
The back-off base is 10 s, scaled like the kubelet's by MINIPOD_BACKOFF_BASE.
"""

import copy
import os
import time

from minipod.controllers import job_math
from minipod.controllers.owners import owner_ref
from minipod.controllers.reconciler import Reconciler
from minipod.kube.times import parse_rfc3339, rfc3339
from minipod.objects import resources as kinds

PODS = kinds.builtin("", "v1", "pods")
JOBS = kinds.builtin("batch", "v1", "jobs")
INDEX_ENV = "JOB_COMPLETION_INDEX"


def pod_from_template(job: dict, index: int | None) -> dict:
    template = copy.deepcopy(job["spec"]["template"])
    meta = template.get("metadata") or {}
    name = job["metadata"]["name"]
    labels, annotations = dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})
    spec = template["spec"]
    prefix = f"{name}-"
    if index is not None:
        labels[job_math.INDEX_KEY] = annotations[job_math.INDEX_KEY] = str(index)
        prefix = f"{name}-{index}-"
        spec.setdefault("hostname", f"{name}-{index}")
        ref = {"fieldRef": {"fieldPath": f"metadata.annotations['{job_math.INDEX_KEY}']"}}
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            c["env"] = [{"name": INDEX_ENV, "valueFrom": ref}] + (c.get("env") or [])
    body: dict = {"generateName": prefix, "labels": labels, "ownerReferences": [owner_ref(job)]}
    if annotations:
        body["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": body, "spec": spec}


def condition(kind: str, status: bool, reason: str, message: str) -> dict:
    now = rfc3339()
    return {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def has(status: dict, kind: str, value: str = "True") -> bool:
    return any(c.get("type") == kind and c.get("status") == value for c in status.get("conditions") or [])


def with_condition(status: dict, cond: dict) -> dict:
    others = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    return dict(status, conditions=[*others, cond])


class JobController(Reconciler):
    name = "job-controller"
    primary = JOBS
    secondary = (PODS,)

    def backoff_base(self) -> float:
        return float(os.environ.get("MINIPOD_BACKOFF_BASE", "10"))

    def reconcile(self, key: str) -> float | None:
        job = self.get(JOBS, key)  # 1
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        spec, status, now = job["spec"], dict(job.get("status") or {}), time.time()
        if has(status, "Complete") or has(status, "Failed"):
            return self.expire(job, status, now)
        owned = self.claim_owned(job, PODS)  # 2
        active = [p for p in owned if job_math.is_active(p)]
        again: float | None = None
        if spec.get("suspend"):  # 3
            self.delete_pods(job, active)
            active = []
            if not has(status, "Suspended"):
                status = with_condition(status, condition("Suspended", True, "JobSuspended", "Job suspended"))
                status.pop("startTime", None)
                self.event(job, "Normal", "Suspended", "Job suspended")
        else:
            if has(status, "Suspended"):
                status = with_condition(status, condition("Suspended", False, "JobResumed", "Job resumed"))
                self.event(job, "Normal", "Resumed", "Job resumed")
            status.setdefault("startTime", rfc3339(now))
            finish = job_math.finished_reason(spec, status, owned, now)  # 4
            if finish is not None:
                status = self.finish(job, status, finish, active)
            else:
                again = self.create_missing(job, owned, now)  # 5
                deadline = spec.get("activeDeadlineSeconds")
                if deadline is not None:
                    left = parse_rfc3339(status["startTime"]) + deadline - now
                    again = min(again, left) if again is not None else left
        owned = self.owned_pods(job)
        self.write_status(JOBS, job, self.status(job, status, owned))  # 6
        return again

    def owned_pods(self, job: dict) -> list[dict]:
        uid, ns = job["metadata"]["uid"], job["metadata"]["namespace"]
        return [
            p
            for (p_ns, _), p in list(self.store.objects[PODS.key].items())
            if p_ns == ns and any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]

    def create_missing(self, job: dict, owned: list[dict], now: float) -> float | None:
        failed = job_math.failures(job["spec"], owned)
        last = job_math.last_failure(owned)
        if failed and last is not None:
            wait = last + job_math.backoff_delay(failed, self.backoff_base()) - now
            if wait > 0:
                return wait
        for index in job_math.to_create(job["spec"], owned):
            created = self.store.create(PODS, pod_from_template(job, index), job["metadata"]["namespace"])
            self.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return None

    def delete_pods(self, job: dict, pods: list[dict]) -> None:
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
            self.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    def finish(self, job: dict, status: dict, finish: job_math.Finish, active: list[dict]) -> dict:
        interim = "SuccessCriteriaMet" if finish.success else "FailureTarget"
        if not has(status, interim):
            status = with_condition(status, condition(interim, True, finish.reason, finish.message))
        self.delete_pods(job, active)
        if self.owned_active_or_terminating(job):
            return status  # the final condition once they are gone
        final = "Complete" if finish.success else "Failed"
        status = with_condition(status, condition(final, True, finish.reason, finish.message))
        if finish.success:
            status["completionTime"] = rfc3339()
            self.event(job, "Normal", "Completed", "Job completed")
        else:
            self.event(job, "Warning", finish.reason, finish.message)
        return status

    def owned_active_or_terminating(self, job: dict) -> bool:
        return any(job_math.phase(p) not in ("Succeeded", "Failed") for p in self.owned_pods(job))

    def status(self, job: dict, status: dict, owned: list[dict]) -> dict:
        active = [p for p in owned if job_math.is_active(p)]
        out = dict(status)
        out["active"] = len(active)
        out["ready"] = sum(1 for p in active if _ready(p))
        out["succeeded"] = sum(1 for p in owned if job_math.phase(p) == "Succeeded")
        out["failed"] = job_math.failures(job["spec"], owned)
        out["terminating"] = sum(
            1
            for p in owned
            if p["metadata"].get("deletionTimestamp") and job_math.phase(p) not in ("Succeeded", "Failed")
        )
        out["uncountedTerminatedPods"] = {}
        if job["spec"].get("completionMode") == "Indexed":
            done = job_math.completed_indexes(owned)
            if done:
                out["completedIndexes"] = job_math.format_indexes(done)
        # Zero counts are omitted, as Go's omitempty does.
        return {k: v for k, v in out.items() if v or k in ("ready", "uncountedTerminatedPods")}

    def expire(self, job: dict, status: dict, now: float) -> float | None:
        """The TTL-after-finished controller: delete a finished Job (and,
        through the garbage collector, its pods) ttlSecondsAfterFinished
        after it finished."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return None
        finished = max(
            (
                parse_rfc3339(c["lastTransitionTime"])
                for c in status.get("conditions") or []
                if c.get("type") in ("Complete", "Failed")
            ),
            default=now,
        )
        left = finished + ttl - now
        if left > 0:
            return left
        meta = job["metadata"]
        self.store.delete(JOBS, meta["namespace"], meta["name"])
        return None


def _ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )
