"""minipod: run Kubernetes Pods on one Linux host with real namespaces."""

__version__ = "0.1.0"
