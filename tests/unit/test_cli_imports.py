"""The CLI's start-up stays light on click's path too (`get pods` and
`version` skip click: test_cli_fast_path.py): what each verb's path
imports, checked in a fresh interpreter's sys.modules (no timing: the
machine is noisy; the figures are bench/bench_cli.py's). And LazyGroup
knows every verb."""

import json
import subprocess
import sys

# Never on the path of get/run/apply/delete/logs/version: http.client and the
# email package it pulls, yaml (the daemon parses manifests), urllib.parse
# (ipaddress), the object store's kind tables, the daemon's modules.
HEAVY = (
    "http.client",
    "email",
    "email.parser",
    "yaml",
    "ssl",
    "urllib.parse",
    "ipaddress",
    "asyncio",
    "subprocess",
    "minipod.objects.resources",
    "minipod.api",
    "minipod.pod",
    "minipod.kubeapi",
)


def loaded_after(code: str) -> set[str]:
    """The modules a fresh `python -I` has after running `code`."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def resolve(verb: str) -> str:
    # What `minipod VERB ...` imports before the verb runs: the group, then
    # the verb's own module (LazyGroup.get_command).
    return (
        "import click\n"
        "from minipod.cli.commands import cli\n"
        f"assert cli.get_command(click.Context(cli), {verb!r}) is not None\n"
    )


def test_each_verb_path_is_free_of_heavy_imports():
    for verb in ("version", "get", "run", "apply", "delete", "logs", "describe", "events"):
        heavy = loaded_after(resolve(verb)) & set(HEAVY)
        assert not heavy, f"`minipod {verb}` imports {sorted(heavy)} at start-up"


def test_version_loads_no_verb_module():
    loaded = loaded_after(resolve("version"))
    for module in ("pod_commands", "printers", "label_commands", "create_commands", "object_commands"):
        assert f"minipod.cli.{module}" not in loaded, module


def test_get_loads_its_module_only():
    loaded = loaded_after(resolve("get"))
    assert "minipod.cli.pod_commands" in loaded  # the check above is not vacuous
    assert "minipod.cli.create_commands" not in loaded
    assert "minipod.cli.label_commands" not in loaded


def test_lazy_group_knows_every_verb_by_its_name():
    import click

    from minipod.cli import commands

    ctx = click.Context(commands.cli)
    names = commands.cli.list_commands(ctx)
    for name in commands.LAZY:
        assert name in names
        command = commands.cli.get_command(ctx, name)
        assert command is not None and command.name == name, name
    assert {"run", "apply", "get", "describe", "logs", "exec", "delete", "events", "top", "create"} <= set(
        names
    )
    assert commands.cli.get_command(ctx, "no-such-verb") is None
