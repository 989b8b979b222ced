"""Who a container runs as (minipod.linux.credentials.user_from): the
image's User and the securityContext, resolved with the container's
/etc/passwd and /etc/group."""

import pytest

from minipod.errors import MinipodError
from minipod.linux.credentials import User, parse_db, user_from

PASSWD = parse_db(
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "app:x:1000:100:App:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    "# not an entry\n"
    "short:x\n"
)
GROUP = parse_db(
    "root:x:0:\nusers:x:100:\nwheel:x:10:app,other\nstaff:x:50:app\nnogroup:x:65534:\napps:x:2000:\n"
)


def resolve(spec="", uid=None, gid=None, passwd=PASSWD, group=GROUP, supplemental=()) -> User:
    return user_from(spec, uid, gid, supplemental, passwd, group)


def test_parse_db_skips_lines_that_are_not_entries():
    assert [e[0] for e in PASSWD] == ["root", "daemon", "app", "nobody"]
    assert GROUP[2] == ["wheel", "x", "10", "app,other"]


def test_no_user_is_root_with_roots_home():
    assert resolve() == User(uid=0, gid=0, home="/root", groups=(0,))


def test_user_by_name_gets_its_group_home_and_supplementary_groups():
    assert resolve("app") == User(uid=1000, gid=100, home="/home/app", groups=(10, 50, 100))


def test_user_by_number_is_found_in_passwd():
    assert resolve("1000") == resolve("app")


def test_a_number_not_in_passwd_is_fine():
    assert resolve("4242") == User(uid=4242, gid=0, home="/", groups=(0,))


def test_user_and_group_names_and_numbers():
    assert resolve("app:apps").gid == 2000
    assert resolve("app:2000").gid == 2000
    assert resolve("1000:7").gid == 7  # a group number need not exist
    assert resolve("nobody:users") == User(uid=65534, gid=100, home="/nonexistent", groups=(100,))


def test_run_as_user_and_group_win_over_the_image():
    u = resolve("app:apps", uid=65534, gid=3000)
    assert (u.uid, u.gid, u.home) == (65534, 3000, "/nonexistent")
    assert u.groups == (3000,)  # nobody is in no group by name


def test_run_as_user_alone_takes_the_entrys_group():
    assert resolve("", uid=1000).gid == 100
    assert resolve("", uid=5000) == User(uid=5000, gid=0, home="/", groups=(0,))


def test_run_as_group_alone_keeps_the_images_user():
    u = resolve("app", gid=9)
    assert (u.uid, u.gid) == (1000, 9)
    assert u.groups == (9, 10, 50)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("ghost", "unable to find user ghost: no matching entries in passwd file"),
        ("app:ghosts", "unable to find group ghosts: no matching entries in group file"),
    ],
)
def test_unknown_names_are_errors(spec, message):
    with pytest.raises(MinipodError, match=message):
        resolve(spec)


def test_an_image_without_passwd_or_group_takes_numbers_only():
    assert resolve("1000:1000", passwd=[], group=[]) == User(uid=1000, gid=1000, home="/", groups=(1000,))
    with pytest.raises(MinipodError, match="unable to find user app"):
        resolve("app", passwd=[], group=[])


def test_supplemental_groups_and_fs_group_are_added():
    assert resolve("app", supplemental=(5000, 10)).groups == (10, 50, 100, 5000)
    assert resolve("", uid=4242, supplemental=(7,)).groups == (0, 7)
