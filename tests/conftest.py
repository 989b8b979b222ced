"""The suite's entry: load the shared helpers as pytest plugins, so their
fixtures reach every test without an import, and mark each test with its
kind, from the directory it lives in:

    tests/unit   pure functions: no root, no daemon, seconds (marker `unit`)
    tests/root   kernel objects without a daemon: rootfs, netlink, CNI
                 plugins, image store (marker `root`)
    tests/e2e    through the daemon and the CLI (marker `e2e`)

`pytest -m unit` (or a directory) runs one kind; scripts/test.sh runs all,
tests/unit as an unprivileged user with MINIPOD_TESTS_UNPRIVILEGED=1, under
which any other kind of test, or running as root, is refused.
"""

import os

import pytest

pytest_plugins = [
    "helpers.instance",
    "helpers.pods",
    "helpers.cni",
    "helpers.registry",
    "helpers.syscall_probe",
    "helpers.cri",
    "helpers.critest",
]

KINDS = ("unit", "root", "e2e")
HERE = os.path.dirname(os.path.abspath(__file__))


UNPRIVILEGED = bool(os.environ.get("MINIPOD_TESTS_UNPRIVILEGED"))


def pytest_sessionstart(session):
    if UNPRIVILEGED and os.geteuid() == 0:
        raise pytest.UsageError("MINIPOD_TESTS_UNPRIVILEGED is set, yet the tests run as root")


def pytest_collection_modifyitems(config, items):
    for item in items:
        kind = os.path.relpath(str(item.path), HERE).split(os.sep)[0]
        if kind not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in tests/unit, tests/root or tests/e2e")
        if UNPRIVILEGED and kind != "unit":
            raise pytest.UsageError(f"{item.nodeid}: only tests/unit runs unprivileged")
        item.add_marker(kind)
