"""The environment and command line a container gets, as the kubelet
builds them (minipod.linux.launch_spec): $(VAR) expansion, the order the
image's Env and the spec's env are merged in, command/args over the image's
Entrypoint/Cmd."""

import pytest

from minipod.errors import MinipodError
from minipod.linux.launch_spec import build_argv, build_env, expand


def a_pod(**spec) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "labels": {"app": "web"}},
        "spec": dict({"containers": []}, **spec),
    }


@pytest.mark.parametrize(
    "value, env, want",
    [
        ("$(A)", {"A": "x"}, "x"),
        ("pre-$(A)-post", {"A": "x"}, "pre-x-post"),
        ("$(A)$(B)", {"A": "x", "B": "y"}, "xy"),
        ("$(MISSING)", {}, "$(MISSING)"),  # unknown references stay as written
        ("$$(A)", {"A": "x"}, "$(A)"),  # $$ escapes the reference
        ("$$", {}, "$"),
        ("cost: $5", {}, "cost: $5"),  # a lone $ is left alone
        ("$(A", {"A": "x"}, "$(A"),  # not closed: not a reference
        ("$(my.var-1)", {"my.var-1": "ok"}, "ok"),  # C_IDENTIFIER and more
    ],
)
def test_expand(value, env, want):
    assert expand(value, env) == want


def test_env_refers_only_to_variables_declared_before():
    container = {
        "env": [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-b-$(C)"},  # C comes later: left as is
            {"name": "C", "value": "c"},
        ]
    }
    env, declared = build_env(["PATH=/bin", "A=from-image"], container, a_pod())
    assert declared == {"A": "a", "B": "a-b-$(C)", "C": "c"}
    assert env["B"] == "a-b-$(C)"
    assert env["A"] == "a"  # the spec's env wins over the image's Env
    assert env["PATH"] == "/bin"


def test_env_does_not_expand_image_variables():
    # The image's Env is merged in after the spec's references are resolved.
    env, _ = build_env(["FROM_IMAGE=i"], {"env": [{"name": "X", "value": "$(FROM_IMAGE)"}]}, a_pod())
    assert env["X"] == "$(FROM_IMAGE)"


def test_env_hostname_is_the_pods_name_or_its_hostname():
    env, _ = build_env(None, {}, a_pod())
    assert env["HOSTNAME"] == "web"
    env, _ = build_env(None, {}, a_pod(hostname="front"))
    assert env["HOSTNAME"] == "front"


def test_env_value_from_field_ref():
    container = {
        "env": [
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "BOTH", "value": "$(NAME)@$(IP)"},
        ]
    }
    _, declared = build_env([], container, a_pod(), pod_ip="10.1.2.3")
    assert declared == {"NAME": "web", "IP": "10.1.2.3", "APP": "web", "BOTH": "web@10.1.2.3"}


def test_env_empty_and_missing_values_are_empty_strings():
    _, declared = build_env([], {"env": [{"name": "E", "value": ""}, {"name": "N"}]}, a_pod())
    assert declared == {"E": "", "N": ""}


IMAGE = {"Entrypoint": ["/entry"], "Cmd": ["default-arg"]}


@pytest.mark.parametrize(
    "container, want",
    [
        ({}, ["/entry", "default-arg"]),  # the image's as it is
        ({"args": ["x"]}, ["/entry", "x"]),  # args replace Cmd only
        ({"command": ["/bin/sh"]}, ["/bin/sh"]),  # command alone drops Cmd too
        ({"command": ["/bin/sh"], "args": ["-c", "true"]}, ["/bin/sh", "-c", "true"]),
        ({"command": ["echo", "$(GREETING)", "$$(GREETING)"]}, ["echo", "hi", "$(GREETING)"]),
        ({"args": [7]}, ["/entry", "7"]),  # numbers become strings
    ],
)
def test_argv(container, want):
    assert build_argv(IMAGE, container, {"GREETING": "hi"}) == want


def test_argv_with_no_command_at_all_is_a_clear_error():
    with pytest.raises(MinipodError, match="no command specified"):
        build_argv({}, {}, {})
