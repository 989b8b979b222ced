"""The controllers one daemon runs, as kube-controller-manager runs them:
started together once the object store holds every live pod (so their
first re-list sees them all), stopped together when the daemon stops.

A new controller is one more class in CONTROLLERS.
"""

from minipod.controllers.cronjob import CronJobController
from minipod.controllers.daemonset import DaemonSetController
from minipod.controllers.deployment import DeploymentController
from minipod.controllers.job import JobController
from minipod.controllers.reconciler import Reconciler
from minipod.controllers.replicaset import ReplicaSetController
from minipod.controllers.statefulset import StatefulSetController
from minipod.services.endpoint_controller import EndpointController

CONTROLLERS: tuple[type[Reconciler], ...] = (
    ReplicaSetController,
    DeploymentController,
    JobController,
    CronJobController,
    DaemonSetController,
    StatefulSetController,
    EndpointController,
)


class ControllerManager:
    def __init__(self, store, log=print):
        self.controllers = [cls(store, log) for cls in CONTROLLERS]

    def start(self) -> None:
        for c in self.controllers:
            c.start()

    def stop(self) -> None:
        for c in self.controllers:
            c.stop()
