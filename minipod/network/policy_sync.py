"""Keeps the NetworkPolicy table of one instance in step with its objects.

A task on the daemon's event loop, driven by the object store's watch hub:
any change to a pod (its IP is assigned, it is deleted, relabelled), a
namespace (its labels) or a NetworkPolicy wakes it. Steps of a sync, in
order:
    1. read the pods, namespaces and policies from the store (in memory);
    2. plan the table (policy_rules.plan, pure);
    3. if the plan is what was applied last, stop here (a pod's status
       changes often; its IP, labels and ports rarely);
    4. make sure bridged traffic reaches the forward hook
       (bridge_netfilter.ensure), then replace the table in one nftables
       transaction (policy_rules.render): the whole new table or none of
       it, and conntrack keeps established connections across it;
       a plan that isolates no pod deletes the table instead.
Changes that arrive together are applied together: the task wakes once
for all the changes queued while it was applying (no timer: a policy
takes effect as soon as the API call is committed, within milliseconds).
The daemon's stop() syncs a last time: with no pod left, the table goes.
"""

import asyncio
import time

from minipod.network import bridge_netfilter, nft, policy_rules
from minipod.network.policy_rules import Plan

WATCHED = ("/pods", "/namespaces", "networking.k8s.io/networkpolicies")


class PolicySync:
    def __init__(self, store, bridge: str, log=print):
        self.store, self.bridge, self.log = store, bridge, log
        self.table = policy_rules.table_name(bridge)
        self.applied: Plan | None = None  # None: not known (a daemon restart)
        self.task: asyncio.Task | None = None
        self.last_apply_ms = 0.0  # how long the last nft transaction took

    # --- 1-3: what the table should be ------------------------------------------------
    def desired(self) -> Plan:
        objects = self.store.objects
        policies = objects[WATCHED[2]]
        # No policy isolates no pod: skip listing every pod (a pod start
        # wakes this sync several times; listing them all made each start
        # cost more as more pods ran).
        if not policies:
            return Plan()
        pods = [a for a in map(policy_rules.pod_addr, objects["/pods"].values()) if a is not None]
        namespaces = {
            ns["metadata"]["name"]: ns["metadata"].get("labels") or {}
            for ns in objects["/namespaces"].values()
        }
        p = policy_rules.plan(policies.values(), pods, namespaces)
        # A table that isolates no pod would do nothing: there is none.
        return p if p.ingress_isolated or p.egress_isolated else Plan()

    # --- 4: the table ---------------------------------------------------------------
    def sync(self) -> None:
        want = self.desired()
        if want == self.applied:
            return
        if not want.empty:
            bridge_netfilter.ensure(self.bridge)
        started = time.monotonic()
        nft.run(policy_rules.render(self.table, want), f"replace table {policy_rules.FAMILY} {self.table}")
        self.last_apply_ms = (time.monotonic() - started) * 1000
        self.applied = want

    # --- the task -------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        wake = asyncio.Event()
        since = self.store.rev.current
        watchers = [self.store.hub.subscribe(key, None, lambda obj: True, since) for key in WATCHED]

        async def listen(w) -> None:
            while await w.queue.get() is not None:
                wake.set()

        listeners = [asyncio.create_task(listen(w)) for w in watchers]
        try:
            while True:
                try:
                    self.sync()
                except Exception as e:  # noqa: BLE001 - a controller never crashes the daemon; the next change retries
                    self.log(f"network policy: {e}")
                    self.applied = None
                await wake.wait()
                wake.clear()
        finally:
            for w in watchers:
                self.store.hub.close(w)
            for t in listeners:
                t.cancel()

    def stop(self) -> None:
        """The daemon stops: the last sync (pods that keep running stay
        protected; with none left, the table is deleted)."""
        if self.task is not None:
            self.task.cancel()
        try:
            self.sync()
        except Exception as e:  # noqa: BLE001 - stopping goes on
            self.log(f"network policy: {e}")
