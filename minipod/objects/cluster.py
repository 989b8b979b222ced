"""The objects of one instance, assembled: the store, its backends (pods,
events, the node), the API server's checks of apps kinds, and the
controllers (garbage collector, namespaces; the Services' endpoints, proxy
and DNS: minipod/services/; the workload controllers: minipod/controllers/;
claims, volumes and classes: minipod/storage/; the NetworkPolicy table:
minipod/network/policy_sync.py).

open_cluster() runs once in the daemon, after the pod manager has adopted
its pods, so every live pod is in the store before the API serves.
"""

import os

from minipod.controllers.controller_manager import ControllerManager
from minipod.kube import pod_security_config
from minipod.network.pod_network import bridge_of
from minipod.network.policy_sync import PolicySync
from minipod.objects import audit, encryption, pod_security_admission, priority_classes
from minipod.objects.apps import admit_apps
from minipod.objects.batch import admit_batch
from minipod.objects.collector import Collector
from minipod.objects.events import EventBackend
from minipod.objects.networkpolicy_spec import admit as admit_networkpolicy
from minipod.objects.nodes import NodeBackend
from minipod.objects.pods import PodBackend
from minipod.objects.priority_classes import PriorityClassAdmission
from minipod.objects.resources import builtin
from minipod.objects.store import ObjectStore
from minipod.pod.node_scheduling import NodeView
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
        policies: PolicySync,
    ):
        self.store, self.pods, self.collector, self.services = store, pods, collector, services
        self.controllers, self.storage, self.policies = controllers, storage, policies

    def stop(self) -> None:
        """The controllers stop (the daemon stops; pods keep running)."""
        for task in (self.collector.task, self.storage.task):
            if task is not None:
                task.cancel()
        self.controllers.stop()
        self.policies.stop()


def node_view(store: ObjectStore, nodes: NodeBackend) -> NodeView:
    """What the scheduler needs of the Node and the Namespaces."""
    labels, taints, unschedulable = nodes.view()
    ns_res = builtin("", "v1", "namespaces")
    ns_labels = {
        n["metadata"]["name"]: n["metadata"].get("labels") or {}
        for n in store.list(ns_res, None, None, None)[0]
    }
    return NodeView(labels, taints, unschedulable, ns_labels)


def open_cluster(inst, manager, log=print, service_cidr: str | None = None) -> Cluster:
    # Encryption at rest when ETC/encryption-config.yaml says so (encryption.py).
    store = ObjectStore(inst.lib, encryption.load(inst.etc))
    services = ServiceRuntime(store, inst, manager.conflist, service_cidr, log)
    pods = PodBackend(store, manager)
    store.backends["pods"] = pods
    store.backends["events"] = EventBackend(store, manager.events)
    nodes = NodeBackend(
        store, manager.host_ip, manager.node_facts, inst.lib, manager.resource_config.node_labels
    )
    store.backends["nodes"] = nodes
    manager.node_view = lambda: node_view(store, nodes)
    nodes.on_change.append(manager.node_changed)
    for plural in ("deployments", "replicasets", "daemonsets", "statefulsets"):
        store.admission[builtin("apps", "v1", plural).key] = admit_apps
    for plural in ("jobs", "cronjobs"):
        store.admission[builtin("batch", "v1", plural).key] = admit_batch
    store.admission[builtin("scheduling.k8s.io", "v1", "priorityclasses").key] = PriorityClassAdmission(store)
    store.admission[builtin("", "v1", "namespaces").key] = pod_security_admission.admit_namespace
    store.admission[builtin("networking.k8s.io", "v1", "networkpolicies").key] = admit_networkpolicy
    store.ensure_defaults()
    # Pods read their ConfigMaps and Secrets from here, and follow their changes.
    manager.config.attach(store)
    priority_classes.ensure_system_classes(store)
    pods.admission.append(lambda pod, sa: priority_classes.admit_pod(store, pod))
    # PodSecurity with the instance's configuration, its audit annotations
    # in LIB/audit.log.
    pods.pod_security = pod_security_admission.PodSecurity(
        store,
        pod_security_config.load(inst.etc),
        audit.AuditLog(os.path.join(inst.lib, "audit.log"), log, pod_security_admission.LOUD),
    )
    # `minipod apply` creates pods without this backend: Priority and
    # PodSecurity apply there too.
    manager.pod_admission.append(lambda pod: priority_classes.admit_pod(store, pod))
    manager.pod_admission.append(pods.pod_security.admit)
    collector = Collector(store, log)
    collector.start()
    manager.node_changed()  # pods waiting since before a restart: now with the Node's labels and taints
    services.start()
    controllers = ControllerManager(store, log)
    controllers.start()
    # Claims, volumes and classes, and their controllers (minipod.storage).
    storage = StorageController(store, manager, os.path.join(inst.lib, "storage"), log)
    storage.start()
    # The NetworkPolicy table of the instance's network (minipod.network).
    policies = PolicySync(store, bridge_of(manager.conflist) or "minipod", log)
    policies.start()
    return Cluster(store, pods, collector, services, controllers, storage, policies)
