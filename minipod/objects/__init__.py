"""The generic object store behind the Kubernetes API.

resources.py  the table of served kinds (a new kind is one entry)
columns.py    what `kubectl get` prints (Table columns): core kinds; apps_, batch_,
              network_ and storage_columns.py the rest
meta.py       object metadata as the API server fills it in (pure)
networkpolicy_spec.py  NetworkPolicy's defaults and validation (pure)
selectors.py  label and field selectors (pure)
revision.py   the instance-wide resourceVersion, crash-safe
watch.py      watch fan-out with a window of recent changes (410 Gone)
store.py      the store: create, get, list, update, delete, watch
errors.py     API errors as v1 Status objects
cluster.py    the objects of one instance assembled: the store and its backends
pods.py       pods in the store, backed by the pod manager (minipod.pod)
events.py     events in the store, backed by the runtime's event recorder
nodes.py      the Node: this host, as a kubelet reports it
collector.py  two kube-controller-manager controllers (namespaces, garbage)
"""
