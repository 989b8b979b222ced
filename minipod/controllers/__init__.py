"""The workload controllers of kube-controller-manager, in the daemon.

Each controller is a level-triggered loop: a change to any object it cares
about queues the key of the object it owns, and reconcile(key) makes the
world match that object's spec, acting only through the object store
(create, update, delete), as a client of the API. Read in this order:

queue.py               the work queue: de-duplicated keys, rate-limited retries
reconciler.py          the base: watch, re-list, queue, reconcile; events
pods_state.py          what a controller reads from a pod (ready, available, rank)
owners.py              ownerReferences: adopt, release, the controller reference
replicaset.py          ReplicaSet: keep `replicas` pods; adopt and release
template_hash.py       the pod-template-hash that names a Deployment's ReplicaSets
rollout_math.py        maxSurge/maxUnavailable and the sizes of each rollout step
deployment_status.py   a Deployment's status and its Progressing/Available conditions
deployment.py          Deployment: RollingUpdate and Recreate through ReplicaSets
job_math.py            what the Job controller decides: counts, failures, indexes, the end
job.py                 Job: pods until enough succeed, back-off, deadlines, TTL
cronjob.py             CronJob: a Job at every scheduled time (kube/cron.py)
daemonset.py           DaemonSet: the daemon pod on this node, if it should run here
statefulset.py         StatefulSet: ordinal pods with their own claims, in order
controller_manager.py  the controllers this daemon runs, started and stopped together

Garbage collection of what controllers create (ownerReferences) is the
generic collector's, minipod/objects/collector.py.
"""
