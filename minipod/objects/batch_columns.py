"""What `kubectl get jobs` and `kubectl get cronjobs` print, as the API
server's Table columns (printers.go: printJob, printCronJob)."""

from minipod.cli.printers import human_age
from minipod.kube.label_selector import format_selector
from minipod.kube.times import parse_rfc3339
from minipod.objects.columns import AGE, NAME, Column


def _containers(template_of, field: str):
    def cell(o: dict, now: float) -> str:
        spec = ((template_of(o) or {}).get("spec")) or {}
        return ",".join(str(c.get(field, "")) for c in spec.get("containers") or [])

    return cell


def _job_template(o: dict) -> dict:
    return (o.get("spec") or {}).get("template") or {}


def _cronjob_template(o: dict) -> dict:
    return (((o.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {}


def job_status(o: dict, now: float) -> str:
    conditions = {c.get("type"): c.get("status") for c in (o.get("status") or {}).get("conditions") or []}
    for kind in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conditions.get(kind) == "True":
            return kind
    return "Running"


def completions(o: dict, now: float) -> str:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    done = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{done}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{done}/1 of {parallelism}" if parallelism > 1 else f"{done}/1"


def duration(o: dict, now: float) -> str:
    status = o.get("status") or {}
    if not status.get("startTime"):
        return ""
    end = parse_rfc3339(status["completionTime"]) if status.get("completionTime") else now
    return human_age(status["startTime"], end)


JOB = (
    NAME,
    Column("Status", "string", job_status, 0, "Status of the job."),
    Column("Completions", "string", completions, 0, "The completion status of the job."),
    Column("Duration", "string", duration, 0, "Time required to complete the job."),
    AGE,
    Column(
        "Containers",
        "string",
        _containers(_job_template, "name"),
        1,
        "Names of each container in the template.",
    ),
    Column(
        "Images",
        "string",
        _containers(_job_template, "image"),
        1,
        "Images referenced by each container in the template.",
    ),
    Column(
        "Selector",
        "string",
        lambda o, now: format_selector((o.get("spec") or {}).get("selector")),
        1,
        "Selector used to select the pods of this job.",
    ),
)

CRONJOB = (
    NAME,
    Column(
        "Schedule",
        "string",
        lambda o, now: (o.get("spec") or {}).get("schedule", ""),
        0,
        "The schedule in Cron format.",
    ),
    Column(
        "Timezone",
        "string",
        lambda o, now: (o.get("spec") or {}).get("timeZone") or "<none>",
        0,
        "The time zone of the schedule.",
    ),
    Column(
        "Suspend",
        "boolean",
        lambda o, now: bool((o.get("spec") or {}).get("suspend")),
        0,
        "Whether the cron job is suspended.",
    ),
    Column(
        "Active",
        "integer",
        lambda o, now: len((o.get("status") or {}).get("active") or []),
        0,
        "The number of running jobs.",
    ),
    Column(
        "Last Schedule",
        "string",
        lambda o, now: (
            human_age((o.get("status") or {}).get("lastScheduleTime"), now)
            if (o.get("status") or {}).get("lastScheduleTime")
            else "<none>"
        ),
        0,
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    Column(
        "Containers",
        "string",
        _containers(_cronjob_template, "name"),
        1,
        "Names of each container in the template.",
    ),
    Column(
        "Images",
        "string",
        _containers(_cronjob_template, "image"),
        1,
        "Images referenced by each container in the template.",
    ),
    Column(
        "Selector",
        "string",
        lambda o, now: format_selector(
            ((o.get("spec") or {}).get("jobTemplate") or {}).get("spec", {}).get("selector")
        ),
        1,
        "Selector used to select the pods of the jobs.",
    ),
)
