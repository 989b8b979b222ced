"""The objects of one instance, assembled: the store, its backends (pods,
events, the node) and the controllers (garbage collector, namespaces,
the Services' endpoints, proxy and DNS: minipod/services/).

open_cluster() runs once in the daemon, after the pod manager has adopted
its pods, so every live pod is in the store before the API serves.
"""

from minipod.objects import pod_security_admission
from minipod.objects.collector import Collector
from minipod.objects.events import EventBackend
from minipod.objects.nodes import NodeBackend
from minipod.objects.pods import PodBackend
from minipod.objects.store import ObjectStore
from minipod.services.runtime import ServiceRuntime


class Cluster:
    def __init__(self, store: ObjectStore, pods: PodBackend, collector: Collector, services: ServiceRuntime):
        self.store, self.pods, self.collector, self.services = store, pods, collector, services


def open_cluster(inst, manager, log=print, service_cidr: str | None = None) -> Cluster:
    store = ObjectStore(inst.lib)
    services = ServiceRuntime(store, inst, manager.conflist, service_cidr, log)
    pods = PodBackend(store, manager)
    store.backends["pods"] = pods
    store.backends["events"] = EventBackend(store, manager.events)
    store.backends["nodes"] = NodeBackend(store, manager.host_ip, manager.node_facts)
    store.ensure_defaults()
    # `minipod apply` creates pods without this backend: PodSecurity applies there too.
    manager.pod_admission.append(lambda pod: pod_security_admission.admit(store, pod))
    collector = Collector(store, log)
    collector.start()
    services.start()
    return Cluster(store, pods, collector, services)
