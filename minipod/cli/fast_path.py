"""The commands typed most, answered without importing click.

click parses every `minipod` command (commands.py), but importing it costs
about 30 ms, half of what `minipod get pods` may take. So parse() knows
exactly these shapes and nothing more:

    minipod [--root DIR] version
    minipod [--root DIR] get pods|pod|po [NAME] [-n NS] [-A] [-l SEL] [-o wide|name|json|yaml]
    minipod [--root DIR] run FILE [-n NS] [--timeout SECONDS]
    minipod [--root DIR] apply -f FILE [-n NS]
    minipod [--root DIR] delete pod NAME... | pod/NAME... [-n NS] [--grace-period N]
                                [--wait|--no-wait] [--ignore-not-found]
    minipod [--root DIR] logs POD [-n NS] [-c NAME] [-f] [-p] [--tail N]
                              [--limit-bytes N] [--since-time T] [--timestamps]

Anything else, including --help, --trace, `delete -f` (it needs the YAML
parser and the kind tables) and every mistake, returns None, and click
parses the command as always, with its help and its error messages. run()
then acts and prints through the same functions as the click commands
(pod_listing.py, pod_actions.py).
"""

import os

POD_KINDS = ("pods", "pod", "po")
OUTPUT_CHOICES = ("wide", "json", "yaml", "name")  # get's -o, for click too (pod_commands.py)
# Each verb's options: option -> (field, how to read its value) ...
NAMESPACE: dict[str, tuple[str, type]] = {"-n": ("namespace", str), "--namespace": ("namespace", str)}
VALUES: dict[str, dict[str, tuple[str, type]]] = {
    "get": {**NAMESPACE, "-l": ("selector", str), "--selector": ("selector", str)}
    | {"-o": ("output", str), "--output": ("output", str)},
    "run": {**NAMESPACE, "--timeout": ("timeout", float)},
    "apply": {**NAMESPACE, "-f": ("name", str), "--filename": ("name", str)},
    "delete": {**NAMESPACE, "--grace-period": ("grace_period", int)},
    "logs": {**NAMESPACE, "-c": ("container", str), "--container": ("container", str)}
    | {"--tail": ("tail", int), "--limit-bytes": ("limit_bytes", int), "--since-time": ("since_time", str)},
}
# ... and flag -> (field, the value it sets).
FLAGS: dict[str, dict[str, tuple[str, bool]]] = {
    "get": {"-A": ("all_namespaces", True), "--all-namespaces": ("all_namespaces", True)},
    "run": {},
    "apply": {},
    "delete": {"--wait": ("wait", True), "--no-wait": ("wait", False)}
    | {"--ignore-not-found": ("ignore_not_found", True)},
    "logs": {"-f": ("follow", True), "--follow": ("follow", True), "-p": ("previous", True)}
    | {"--previous": ("previous", True), "--timestamps": ("timestamps", True)},
}


class Plan:
    """What to run (a plain class: importing dataclasses costs ~10 ms)."""

    def __init__(self, verb: str, root: str | None):
        self.verb, self.root = verb, root  # verb: "version", "get", "run", "apply", "delete" or "logs"
        self.name: str | None = None  # get's pod, run's and apply's file, logs' pod
        self.names: list[str] = []  # delete's pods
        self.namespace = "default"
        self.explicit_namespace = False  # -n given (run, apply: enforceNamespace)
        self.timeout = 60.0
        self.selector: str | None = None
        self.output: str | None = None
        self.all_namespaces = False
        self.grace_period: int | None = None
        self.wait = True
        self.ignore_not_found = False
        self.container: str | None = None
        self.follow = self.previous = self.timestamps = False
        self.tail, self.limit_bytes = -1, 0
        self.since_time: str | None = None


def parse(args: list[str]) -> Plan | None:
    root = os.environ.get("MINIPOD_ROOT") or None
    if args[:1] == ["--root"] and len(args) > 1:
        root, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--root="):
        root, args = args[0].split("=", 1)[1], args[1:]
    if args == ["version"]:
        return Plan("version", root)
    if not args or args[0] not in VALUES:
        return None
    plan = Plan(args[0], root)
    words = read_options(plan, args[1:])
    if words is None:
        return None
    return CHECKS[plan.verb](plan, words)


def read_options(plan: Plan, rest: list[str]) -> list[str] | None:
    """Set the plan's fields from its verb's options, read as click reads
    them (-nNS, --namespace=NS, --namespace NS, options anywhere); the other
    words, in order. None for what only click knows or must complain about:
    an unknown option, combined short flags, a missing or bad value, `--`."""
    values, flags = VALUES[plan.verb], FLAGS[plan.verb]
    words: list[str] = []
    while rest:
        word, rest = rest[0], rest[1:]
        if not word.startswith("-") or word == "-":
            words.append(word)
            continue
        if word.startswith("--"):
            option, eq, value = word.partition("=")
        elif len(word) > 2:  # -nteam: the rest of the word is the value, as in click
            option, eq, value = word[:2], "=", word[2:]
        else:
            option, eq, value = word, "", ""
        if option in flags and not eq:
            field, constant = flags[option]
            setattr(plan, field, constant)
            continue
        if option not in values:
            return None
        if not eq:
            if not rest:
                return None
            value, rest = rest[0], rest[1:]
        field, convert = values[option]
        try:
            setattr(plan, field, convert(value))
        except ValueError:
            return None  # click says what is wrong
        plan.explicit_namespace |= field == "namespace"
    return words


def _check_get(plan: Plan, words: list[str]) -> Plan | None:
    if not 1 <= len(words) <= 2 or words[0] not in POD_KINDS:
        return None  # another kind, or a second name: click says what is wrong
    plan.name = words[1] if len(words) == 2 else None
    if plan.output is not None and plan.output not in OUTPUT_CHOICES:
        return None
    return plan


def _check_run(plan: Plan, words: list[str]) -> Plan | None:
    if len(words) != 1 or os.path.isdir(words[0]):
        return None  # click's messages: a missing FILE, a directory
    plan.name = words[0]
    return plan


def _check_apply(plan: Plan, words: list[str]) -> Plan | None:
    return plan if not words and plan.name is not None else None


def _check_delete(plan: Plan, words: list[str]) -> Plan | None:
    if len(words) >= 2 and words[0] in POD_KINDS and not any("/" in w for w in words):
        plan.names = words[1:]  # delete pod a b
    elif words and all(w.partition("/")[0] in POD_KINDS and w.partition("/")[2] for w in words):
        plan.names = [w.partition("/")[2] for w in words]  # delete pod/a pod/b
    else:
        return None  # other kinds, -f, nothing named: click
    return plan if all(plan.names) else None


def _check_logs(plan: Plan, words: list[str]) -> Plan | None:
    if len(words) != 1:
        return None
    plan.name = words[0]
    return plan


CHECKS = {
    "get": _check_get,
    "run": _check_run,
    "apply": _check_apply,
    "delete": _check_delete,
    "logs": _check_logs,
}


def run(plan: Plan) -> None:
    import sys

    from minipod.cli import pod_actions
    from minipod.cli.client import Client
    from minipod.cli.pod_listing import print_pods, print_run, print_version
    from minipod.paths import instance

    inst = instance(plan.root)
    if plan.verb == "version":
        return print_version(inst)
    client = Client(inst)
    if plan.verb == "get":
        print_pods(client, plan.name, plan.selector, plan.output, plan.all_namespaces, plan.namespace)
    elif plan.verb == "run":
        assert plan.name is not None
        query = {"wait": "running", "timeout": str(plan.timeout)}
        result = pod_actions.apply_manifest(client, plan.name, plan.namespace, plan.explicit_namespace, query)
        sys.exit(print_run(result, plan.timeout))
    elif plan.verb == "apply":
        assert plan.name is not None
        pod_actions.print_applied(
            pod_actions.apply_manifest(client, plan.name, plan.namespace, plan.explicit_namespace, {})
        )
    elif plan.verb == "delete":
        targets = [(plan.namespace, name, "Pod") for name in plan.names]
        ok = pod_actions.delete_pods(client, targets, plan.grace_period, plan.ignore_not_found, plan.wait)
        sys.exit(0 if ok else 1)
    else:
        assert plan.name is not None
        query = pod_actions.logs_query(
            plan.container,
            plan.follow,
            plan.previous,
            plan.tail,
            plan.limit_bytes,
            since_time=plan.since_time,
            timestamps=plan.timestamps,
        )
        pod_actions.stream_logs(client, plan.namespace, plan.name, query)
