"""The generic object store behind the Kubernetes API.

resources.py  the table of served kinds (a new kind is one entry)
columns.py    what `kubectl get` prints for each kind (the Table columns)
meta.py       object metadata as the API server fills it in (pure)
selectors.py  label and field selectors (pure)
revision.py   the instance-wide resourceVersion, crash-safe
watch.py      watch fan-out with a window of recent changes (410 Gone)
store.py      the store: create, get, list, update, delete, watch
errors.py     API errors as v1 Status objects
"""
