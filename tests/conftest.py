"""The suite's entry: load the shared helpers as pytest plugins, so their
fixtures reach every test without an import, and mark each test with its
kind, from the directory it lives in:

    tests/unit   pure functions: no root, no daemon, seconds (marker `unit`)
    tests/root   kernel objects without a daemon: rootfs, netlink, CNI
                 plugins, image store (marker `root`)
    tests/e2e    through the daemon and the CLI (marker `e2e`)

`pytest -m unit` (or a directory) runs one kind; scripts/test.sh runs all.
"""

import os

import pytest

pytest_plugins = [
    "helpers.instance",
    "helpers.pods",
    "helpers.cni",
    "helpers.registry",
    "helpers.syscall_probe",
]

KINDS = ("unit", "root", "e2e")
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    for item in items:
        kind = os.path.relpath(str(item.path), HERE).split(os.sep)[0]
        if kind not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in tests/unit, tests/root or tests/e2e")
        item.add_marker(kind)
