"""The objects of one instance, assembled: the store, its backends (pods,
events, the node), the API server's checks of apps kinds, and the
controllers (garbage collector, namespaces; the Services' endpoints, proxy
and DNS: minipod/services/; the workload controllers: minipod/controllers/;
claims, volumes and classes: minipod/storage/).

open_cluster() runs once in the daemon, after the pod manager has adopted
its pods, so every live pod is in the store before the API serves.
"""

import os

from minipod.controllers.controller_manager import ControllerManager
from minipod.objects import pod_security_admission
from minipod.objects.apps import admit_apps
from minipod.objects.collector import Collector
from minipod.objects.events import EventBackend
from minipod.objects.nodes import NodeBackend
from minipod.objects.pods import PodBackend
from minipod.objects.resources import builtin
from minipod.objects.store import ObjectStore
from minipod.services.runtime import ServiceRuntime
from minipod.storage.controller import StorageController


class Cluster:
    def __init__(
        self,
        store: ObjectStore,
        pods: PodBackend,
        collector: Collector,
        services: ServiceRuntime,
        controllers: ControllerManager,
        storage: StorageController,
    ):
        self.store, self.pods, self.collector, self.services = store, pods, collector, services
        self.controllers, self.storage = controllers, storage

    def stop(self) -> None:
        """The controllers stop (the daemon stops; pods keep running)."""
        for task in (self.collector.task, self.storage.task):
            if task is not None:
                task.cancel()
        self.controllers.stop()


def open_cluster(inst, manager, log=print, service_cidr: str | None = None) -> Cluster:
    store = ObjectStore(inst.lib)
    services = ServiceRuntime(store, inst, manager.conflist, service_cidr, log)
    pods = PodBackend(store, manager)
    store.backends["pods"] = pods
    store.backends["events"] = EventBackend(store, manager.events)
    store.backends["nodes"] = NodeBackend(store, manager.host_ip, manager.node_facts)
    for plural in ("deployments", "replicasets"):
        store.admission[builtin("apps", "v1", plural).key] = admit_apps
    store.ensure_defaults()
    # Pods read their ConfigMaps and Secrets from here, and follow their changes.
    manager.config.attach(store)
    # `minipod apply` creates pods without this backend: PodSecurity applies there too.
    manager.pod_admission.append(lambda pod: pod_security_admission.admit(store, pod))
    collector = Collector(store, log)
    collector.start()
    services.start()
    controllers = ControllerManager(store, log)
    controllers.start()
    # Claims, volumes and classes, and their controllers (minipod.storage).
    storage = StorageController(store, manager, os.path.join(inst.lib, "storage"), log)
    storage.start()
    return Cluster(store, pods, collector, services, controllers, storage)
