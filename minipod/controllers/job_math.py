"""What the Job controller decides, pure (pkg/controller/job).

The pods of a Job, by state: active (not finished, not being deleted),
succeeded, failed. From them:
    failures()         failed pods that count toward backoffLimit (the
                       podFailurePolicy may Ignore one), plus, for
                       restartPolicy OnFailure, the restarts of active pods;
    policy_verdict()   the first podFailurePolicy rule a failed pod matches:
                       FailJob, Ignore, Count (or FailIndex);
    finished_reason()  why the Job is over: success (completions reached,
                       every index done, a successPolicy rule), or failure
                       (backoff limit, deadline, a FailJob rule), or None;
    to_create()        the pods to create now: up to parallelism, never
                       past what is left to complete; for an Indexed Job,
                       the lowest indexes neither done nor running;
    backoff_delay()    the controller's exponential back-off between
                       failures: base, 2x, 4x ... capped at 6 minutes.
"""

from dataclasses import dataclass

from minipod.kube.times import parse_rfc3339

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
MAX_BACKOFF = 360.0


def phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase", "Pending")


def is_active(pod: dict) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and phase(pod) not in ("Succeeded", "Failed")


def index_of(pod: dict) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    return int(value) if value is not None and str(value).isdigit() else None


def _exit_codes(pod: dict) -> list[tuple[str, int]]:
    out = []
    for c in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (c.get("state") or {}).get("terminated") or (c.get("lastState") or {}).get("terminated")
        if term is not None and term.get("exitCode") is not None:
            out.append((c["name"], int(term["exitCode"])))
    return out


def policy_verdict(spec: dict, pod: dict) -> tuple[str, str]:
    """(action, message) of the first podFailurePolicy rule the failed pod
    matches; ("Count", "") when none does."""
    rules = (spec.get("podFailurePolicy") or {}).get("rules") or []
    meta = pod["metadata"]
    conditions = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
    for i, rule in enumerate(rules):
        codes = rule.get("onExitCodes")
        if codes:
            for name, code in _exit_codes(pod):
                if codes.get("containerName") not in (None, name) or code == 0:
                    continue
                listed = code in (codes.get("values") or [])
                if listed == (codes.get("operator", "In") == "In"):
                    message = (
                        f"Container {name} for pod {meta['namespace']}/{meta['name']} failed with exit code "
                        f"{code} matching {rule['action']} rule at index {i}"
                    )
                    return rule["action"], message
        for want in rule.get("onPodConditions") or []:
            if conditions.get(want.get("type")) == want.get("status", "True"):
                message = (
                    f"Pod {meta['namespace']}/{meta['name']} has condition {want.get('type')} matching "
                    f"{rule['action']} rule at index {i}"
                )
                return rule["action"], message
    return "Count", ""


def failures(spec: dict, pods: list[dict]) -> int:
    failed = sum(1 for p in pods if phase(p) == "Failed" and policy_verdict(spec, p)[0] != "Ignore")
    if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure":
        for p in pods:
            if is_active(p):
                failed += sum(
                    c.get("restartCount", 0) for c in (p.get("status") or {}).get("containerStatuses") or []
                )
    return failed


def completed_indexes(pods: list[dict]) -> set[int]:
    return {i for p in pods if phase(p) == "Succeeded" and (i := index_of(p)) is not None}


def format_indexes(indexes: set[int]) -> str:
    """3 completed indexes 0, 1, 2 and 5 read "0-2,5", as status.completedIndexes."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


@dataclass(frozen=True)
class Finish:
    success: bool
    reason: str
    message: str


def _success_policy(spec: dict, done: set[int]) -> Finish | None:
    for i, rule in enumerate((spec.get("successPolicy") or {}).get("rules") or []):
        wanted = _parse_indexes(rule.get("succeededIndexes"))
        count = rule.get("succeededCount")
        pool = done & wanted if wanted is not None else done
        if wanted is not None and count is None and not wanted <= done:
            continue
        if count is not None and len(pool) < count:
            continue
        return Finish(True, "SuccessPolicy", f"Matched rules at index {i}")
    return None


def _parse_indexes(text: str | None) -> set[int] | None:
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def finished_reason(spec: dict, status: dict, pods: list[dict], now: float) -> Finish | None:
    """Why the Job is over now, if it is (failure is checked first)."""
    for p in pods:
        if phase(p) == "Failed":
            action, message = policy_verdict(spec, p)
            if action == "FailJob":
                return Finish(False, "PodFailurePolicy", message)
    if failures(spec, pods) > spec.get("backoffLimit", 6):
        return Finish(False, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    deadline = spec.get("activeDeadlineSeconds")
    if (
        deadline is not None
        and status.get("startTime")
        and parse_rfc3339(status["startTime"]) + deadline <= now
    ):
        return Finish(False, "DeadlineExceeded", "Job was active longer than specified deadline")
    completions = spec.get("completions")
    succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
    if spec.get("completionMode") == "Indexed":
        done = completed_indexes(pods)
        by_policy = _success_policy(spec, done)
        if by_policy:
            return by_policy
        if done >= set(range(completions or 0)):
            return Finish(True, "CompletionsReached", "Reached expected number of succeeded pods")
        return None
    if completions is not None and succeeded >= completions:
        return Finish(True, "CompletionsReached", "Reached expected number of succeeded pods")
    if completions is None and succeeded > 0 and not any(is_active(p) for p in pods):
        return Finish(True, "CompletionsReached", "Reached expected number of succeeded pods")
    return None


def to_create(spec: dict, pods: list[dict]) -> list[int | None]:
    """The pods to create now: their indexes (None for a NonIndexed Job)."""
    active = [p for p in pods if is_active(p)]
    room = spec.get("parallelism", 1) - len(active)
    if room <= 0:
        return []
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed":
        busy = completed_indexes(pods) | {i for p in active if (i := index_of(p)) is not None}
        missing: list[int | None] = [i for i in range(completions or 0) if i not in busy]
        return missing[:room]
    succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
    if completions is None:
        return [None] * room if succeeded == 0 else []
    return [None] * max(0, min(room, completions - succeeded - len(active)))


def backoff_delay(failed: int, base: float = 10.0) -> float:
    if failed <= 0:
        return 0.0
    return min(base * 2 ** (failed - 1), MAX_BACKOFF)


def last_failure(pods: list[dict]) -> float | None:
    """When the latest failed pod finished (epoch seconds)."""
    times = []
    for p in pods:
        if phase(p) != "Failed":
            continue
        for c in (p.get("status") or {}).get("containerStatuses") or []:
            term = (c.get("state") or {}).get("terminated") or {}
            if term.get("finishedAt"):
                times.append(parse_rfc3339(term["finishedAt"]))
    return max(times) if times else None
