"""The commands typed most, answered without importing click.

click parses every `minipod` command (commands.py), but importing it costs
about 30 ms, half of what `minipod get pods` may take. So parse() knows
exactly these shapes and nothing more:

    minipod [--root DIR] version
    minipod [--root DIR] get pods|pod|po [NAME] [-n NS] [-A] [-l SEL] [-o wide|name|json|yaml]
    minipod [--root DIR] run FILE [-n NS] [--timeout SECONDS]

Anything else, including --help and every mistake, returns None, and click
parses the command as always, with its help and its error messages. run()
then prints through the same functions as the click commands
(pod_listing.py).
"""

import os

POD_KINDS = ("pods", "pod", "po")
OUTPUT_CHOICES = ("wide", "json", "yaml", "name")  # get's -o, for click too (pod_commands.py)
# option -> (field, takes a value)
OPTIONS = {
    "-n": ("namespace", True),
    "--namespace": ("namespace", True),
    "-l": ("selector", True),
    "--selector": ("selector", True),
    "-o": ("output", True),
    "--output": ("output", True),
    "-A": ("all_namespaces", False),
    "--all-namespaces": ("all_namespaces", False),
}


class Plan:
    """What to run (a plain class: importing dataclasses costs ~10 ms)."""

    def __init__(self, verb: str, root: str | None):
        self.verb, self.root = verb, root  # verb: "version", "get" or "run"
        self.name: str | None = None  # get's pod, run's file
        self.namespace = "default"
        self.explicit_namespace = False  # -n given (run: enforceNamespace)
        self.timeout = 60.0
        self.selector: str | None = None
        self.output: str | None = None
        self.all_namespaces = False


def parse(args: list[str]) -> Plan | None:
    root = os.environ.get("MINIPOD_ROOT") or None
    if args[:1] == ["--root"] and len(args) > 1:
        root, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--root="):
        root, args = args[0].split("=", 1)[1], args[1:]
    if args == ["version"]:
        return Plan("version", root)
    if args[:1] == ["run"]:
        return _parse_run(Plan("run", root), args[1:])
    if len(args) < 2 or args[0] != "get" or args[1] not in POD_KINDS:
        return None
    plan, rest = Plan("get", root), args[2:]
    while rest:
        word, rest = rest[0], rest[1:]
        option, eq, value = word.partition("=")
        if not eq and len(word) > 2 and word[0] == "-" and word[1] != "-":  # -ndefault, as click reads it
            option, value, eq = word[:2], word[2:], "="
        if option in OPTIONS:
            field, takes_value = OPTIONS[option]
            if not takes_value:
                if eq:
                    return None
                plan.all_namespaces = True
                continue
            if not eq:
                if not rest:
                    return None
                value, rest = rest[0], rest[1:]
            setattr(plan, field, value)
        elif word.startswith("-") or plan.name is not None:
            return None  # an option only click knows, or a second name: click says what is wrong
        else:
            plan.name = word
    if plan.output is not None and plan.output not in OUTPUT_CHOICES:
        return None
    return plan


def _parse_run(plan: Plan, rest: list[str]) -> Plan | None:
    """run's own options: -n and --timeout (not --trace, -o, --help)."""
    while rest:
        word, rest = rest[0], rest[1:]
        option, eq, value = word.partition("=")
        if not eq and len(word) > 2 and word[:2] == "-n":
            option, value, eq = "-n", word[2:], "="
        if option in ("-n", "--namespace", "--timeout"):
            if not eq:
                if not rest:
                    return None
                value, rest = rest[0], rest[1:]
            if option == "--timeout":
                try:
                    plan.timeout = float(value)
                except ValueError:
                    return None  # click says what is wrong
            else:
                plan.namespace, plan.explicit_namespace = value, True
        elif (word.startswith("-") and word != "-") or plan.name is not None:
            return None
        else:
            plan.name = word
    if plan.name is None or os.path.isdir(plan.name):
        return None  # click's messages: a missing FILE, a directory
    return plan


def run(plan: Plan) -> None:
    from minipod.cli.client import Client
    from minipod.cli.pod_listing import print_pods, print_version
    from minipod.paths import instance

    inst = instance(plan.root)
    if plan.verb == "version":
        print_version(inst)
    elif plan.verb == "run":
        run_pods(Client(inst), plan)
    else:
        print_pods(Client(inst), plan.name, plan.selector, plan.output, plan.all_namespaces, plan.namespace)


def run_pods(client, plan: Plan) -> None:
    """`minipod run FILE`: the manifest as it is (the daemon parses YAML),
    one request that answers once every pod is decided."""
    import sys

    from minipod.cli.pod_listing import apply_query, print_run, print_warnings, read_manifest

    assert plan.name is not None
    query = apply_query(
        plan.namespace, plan.explicit_namespace, {"wait": "running", "timeout": str(plan.timeout)}
    )
    manifest = read_manifest(plan.name)
    result = client.json("POST", "/minipod/v1/apply", manifest, query=query, content_type="application/yaml")
    print_warnings(result)
    sys.exit(print_run(result, plan.timeout))
