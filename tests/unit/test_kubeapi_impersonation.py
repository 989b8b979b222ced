"""Impersonation (kubeapi/auth.py step 4), as the API server does it: who
may, and the groups the impersonated user gets."""

import pytest

from minipod.api.status import StatusError
from minipod.kubeapi.auth import User, impersonated

ADMIN = User("minipod-admin", ["system:masters", "system:authenticated"])


def test_the_admin_acts_as_a_serviceaccount_with_its_groups():
    u = impersonated(ADMIN, "system:serviceaccount:team:robot", [])
    assert u.name == "system:serviceaccount:team:robot" and not u.admin
    assert u.groups == ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]


def test_groups_are_the_requested_ones_so_the_admin_can_act_as_an_admin():
    assert impersonated(ADMIN, "alice", ["system:masters"]).admin
    assert impersonated(ADMIN, "system:anonymous", []).groups == []


def test_only_the_admin_may_impersonate():
    sa = User("system:serviceaccount:default:default", ["system:serviceaccounts", "system:authenticated"])
    with pytest.raises(StatusError) as e:
        impersonated(sa, "minipod-admin", ["system:masters"])
    assert e.value.code == 403 and 'cannot impersonate resource "users"' in str(e.value)


def test_groups_without_a_user_are_refused():
    with pytest.raises(StatusError) as e:
        impersonated(ADMIN, None, ["system:masters"])
    assert e.value.code == 400
