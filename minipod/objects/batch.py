"""Jobs and CronJobs as the API server defaults and checks them
(pkg/apis/batch: defaults.go, validation.go), before the store keeps them.

admit_batch(obj, old), on create and on every update, in order:
    1. default a Job: parallelism 1 and, when parallelism was unset too,
       completions 1 (a work queue sets parallelism alone), backoffLimit 6,
       completionMode NonIndexed,
       suspend false, podReplacementPolicy TerminatingOrFailed, and the
       generated selector `batch.kubernetes.io/controller-uid=<uid>` with
       the labels it selects put on the template (controller-uid, job-name,
       and their batch.kubernetes.io/ forms); a CronJob: concurrencyPolicy
       Allow, suspend false, history limits 3 and 1; the pod template as a
       Pod is defaulted;
    2. validate: restartPolicy OnFailure or Never, counts not negative,
       an Indexed Job has completions, a CronJob's schedule parses
       (kube/cron.py) and its timeZone exists; on update a Job's selector,
       template and completionMode never change.
A failure is the API server's 422 Invalid with each field's message.
"""

import copy

from minipod.errors import ManifestError
from minipod.kube import cron
from minipod.kube.manifest import default_pod
from minipod.kube.validate import validate_pod
from minipod.objects.errors import invalid

Cause = tuple[str, str, str]
UID_LABEL = "batch.kubernetes.io/controller-uid"
NAME_LABEL = "batch.kubernetes.io/job-name"


def _default_template(spec: dict) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        try:
            pod = default_pod({"metadata": template.get("metadata") or {}, "spec": template["spec"]})
        except (KeyError, TypeError, AttributeError):
            return  # a malformed template: validation names the field
        pod["metadata"].pop("namespace", None)
        spec["template"] = {"metadata": pod["metadata"], "spec": pod["spec"]}


def default_job_spec(spec: dict, name: str, uid: str) -> None:
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
        if spec.get("completions") is None:
            spec["completions"] = 1
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    if not spec.get("manualSelector") and uid:
        labels = {UID_LABEL: uid, NAME_LABEL: name, "controller-uid": uid, "job-name": name}
        spec["selector"] = {"matchLabels": {UID_LABEL: uid}}
        template = spec.setdefault("template", {})
        if isinstance(template, dict):
            meta = template.setdefault("metadata", {})
            if isinstance(meta, dict):
                meta["labels"] = {**(meta.get("labels") or {}), **labels}
    _default_template(spec)


def defaulted(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return obj
    meta = obj["metadata"]
    if obj["kind"] == "Job":
        default_job_spec(spec, meta["name"], meta.get("uid", ""))
    else:
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_template = spec.get("jobTemplate")
        if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
            _default_template(job_template["spec"])
    return obj


def _counts(spec: dict, path: str, fields: tuple[str, ...], causes: list[Cause]) -> None:
    for field in fields:
        value = spec.get(field)
        if value is not None and (not isinstance(value, int) or value < 0):
            causes.append(
                (
                    "FieldValueInvalid",
                    f"{path}.{field}",
                    f"Invalid value: {value}: must be greater than or equal to 0",
                )
            )


def job_spec_problems(spec: dict, path: str) -> list[Cause]:
    causes: list[Cause] = []
    _counts(
        spec,
        path,
        ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"),
        causes,
    )
    mode = spec.get("completionMode")
    if mode not in (None, "NonIndexed", "Indexed"):
        causes.append(
            (
                "FieldValueNotSupported",
                f"{path}.completionMode",
                f'Unsupported value: "{mode}": supported values: "NonIndexed", "Indexed"',
            )
        )
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(
            ("FieldValueRequired", f"{path}.completions", "Required value: when completion mode is Indexed")
        )
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        causes.append(("FieldValueRequired", f"{path}.template", "Required value"))
        return causes
    policy = template["spec"].get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        causes.append(
            (
                "FieldValueNotSupported",
                f"{path}.template.spec.restartPolicy",
                f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
            )
        )
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template"}, "spec": template["spec"]}
    try:
        validate_pod(pod)
    except ManifestError as e:
        for line in e.errors:
            field, _, message = line.partition(": ")
            if "restartPolicy" not in field:
                causes.append(("FieldValueInvalid", f"{path}.template.{field}", message))
    return causes


def validate(obj: dict, old: dict | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise invalid(
            obj["kind"], obj["metadata"]["name"], [("FieldValueRequired", "spec", "Required value")]
        )
    if obj["kind"] == "Job":
        causes = job_spec_problems(spec, "spec")
        if old is not None:
            before = old.get("spec") or {}
            for field in ("selector", "template", "completionMode", "completions"):
                if field == "completions" and spec.get("completionMode") != "Indexed":
                    continue
                if spec.get(field) != before.get(field):
                    causes.append(("FieldValueInvalid", f"spec.{field}", "Invalid value: field is immutable"))
    else:
        causes = []
        schedule = spec.get("schedule")
        if not isinstance(schedule, str) or not schedule:
            causes.append(("FieldValueRequired", "spec.schedule", "Required value"))
        else:
            problem = cron.problem(schedule)
            if problem:
                causes.append(
                    ("FieldValueInvalid", "spec.schedule", f"Invalid value: {schedule!r}: {problem}")
                )
        zone = spec.get("timeZone")
        if zone is not None and not cron.zone_exists(zone):
            causes.append(
                ("FieldValueInvalid", "spec.timeZone", f'Invalid value: "{zone}": unknown time zone {zone}')
            )
        policy = spec.get("concurrencyPolicy")
        if policy not in ("Allow", "Forbid", "Replace"):
            causes.append(
                (
                    "FieldValueNotSupported",
                    "spec.concurrencyPolicy",
                    f'Unsupported value: "{policy}": supported values: "Allow", "Forbid", "Replace"',
                )
            )
        _counts(
            spec,
            "spec",
            ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"),
            causes,
        )
        job_template = spec.get("jobTemplate")
        if not isinstance(job_template, dict) or not isinstance(job_template.get("spec"), dict):
            causes.append(("FieldValueRequired", "spec.jobTemplate", "Required value"))
        else:
            causes += job_spec_problems(job_template["spec"], "spec.jobTemplate.spec")
    if causes:
        raise invalid(obj["kind"], obj["metadata"]["name"], causes)


def admit_batch(obj: dict, old: dict | None) -> dict:
    """The store's admission hook for jobs and cronjobs."""
    if old is not None and obj["kind"] == "Job":
        # The generated selector and labels come from the stored Job.
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict) and not spec.get("manualSelector"):
            before = old.get("spec") or {}
            spec.setdefault("selector", before.get("selector"))
    obj = defaulted(obj)
    validate(obj, old)
    return obj
