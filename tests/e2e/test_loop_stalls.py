"""The daemon's event-loop heartbeat (minipod/api/loop_stalls.py), which
bench/bench_loop.py reads around a burst: off until asked, then a sample
every few ms, each one how late the loop let it run."""

import time

import pytest
from helpers.pods import pod_yaml

from minipod.cli.client import Client
from minipod.errors import MinipodError
from minipod.paths import instance


def test_the_heartbeat_counts_the_loops_stalls_and_answers_since_a_mark(mp, pod_name):
    client = Client(instance(mp.root), autostart=False)
    first = client.json("GET", "/minipod/v1/debug/loop")
    assert first["next"] == 0 and first["stallsMs"] == []  # off until now
    time.sleep(0.3)
    quiet = client.json("GET", "/minipod/v1/debug/loop", query={"since": "0"})
    assert quiet["next"] >= 20, quiet["next"]  # ~150 beats of 2 ms, however loaded the machine
    assert len(quiet["stallsMs"]) == quiet["next"]
    assert all(s >= 0 for s in quiet["stallsMs"])
    mp.run_pod(pod_yaml(pod_name, "sleep 3600"))
    busy = client.json("GET", "/minipod/v1/debug/loop", query={"since": str(quiet["next"])})
    # Only the samples taken since the mark: the pod's start among them.
    assert busy["next"] > quiet["next"]
    assert len(busy["stallsMs"]) == busy["next"] - quiet["next"]
    with pytest.raises(MinipodError, match="since"):
        client.json("GET", "/minipod/v1/debug/loop", query={"since": "soon"})
