"""Issue 11, defect 4: the CLI never prints a traceback: a file that is not
UTF-8, and a daemon that dies in the middle of a request."""

import os
import subprocess
import time

from helpers.cli import assert_user_error
from helpers.instance import MINIPOD
from helpers.pods import pod_yaml


def test_a_manifest_that_is_not_utf8(mp, tmp_path):
    bad = tmp_path / "latin1.yml"
    bad.write_bytes("apiVersion: v1\nkind: Pod\nmetadata:\n  name: caf\xe9\n".encode("latin-1"))
    p = mp.run("apply", "-f", str(bad), check=False)
    assert_user_error(p, f"{bad}: not valid UTF-8 (byte 46)")
    p = mp.run("apply", "-f", "-", input=None, check=False)  # empty stdin is fine text
    assert "Traceback" not in p.stderr


def test_a_daemon_lost_mid_request(fresh_mp, pod_name):
    mp = fresh_mp
    # `run` waits for the pod, which an endless init container holds back.
    manifest = pod_yaml(pod_name, "sleep 3600").replace(
        "  containers:\n",
        "  initContainers:\n  - name: hold\n    image: busybox:1.35\n    command: [sleep, '3600']\n"
        "  containers:\n",
    )
    env = dict(os.environ, MINIPOD_NO_AUTOSTART="1")
    cli = subprocess.Popen(
        [MINIPOD, "--root", mp.root, "run", "-", "--timeout", "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    cli.stdin.write(manifest)
    cli.stdin.close()
    deadline = time.time() + 20
    while mp.run("get", "pod", pod_name, check=False).returncode != 0:
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    mp.kill_daemon()
    out, err = cli.stdout.read(), cli.stderr.read()
    cli.wait(20)
    assert cli.returncode == 1, (out, err)
    assert "Traceback" not in out + err, err
    assert err.startswith("error: lost the connection to the minipod daemon"), err
    assert "may or may not have been carried out" in err, err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1, err
    mp.start_daemon()
    mp.delete(pod_name)
