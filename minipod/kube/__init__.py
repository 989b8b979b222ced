"""Kubernetes shapes, no I/O: what a Pod manifest may say and what it means.

Everything here is pure (standard library, no files, no processes) and
typed through and through (mypy --strict's rules), so that the rules of the
API server, the scheduler and the kubelet can be read, and unit-tested, apart
from the machinery that carries them out. Read the modules in this order:

    schema            the v1 Pod written down as plain Python data
    names             the name formats (DNS labels, qualified names), worded as the API server words them
    yaml_load         YAML documents parsed as strictly as kubectl parses them
    validate          strict checking of a Pod, with kubectl-style messages
    security_context  the securityContext rules validate applies
    implemented       what minipod implements of a Pod, and the warnings for the rest
    manifest          from manifest text to defaulted Pod (and Secret) objects
    selectors         label selectors (`get -l`, labelSelector)
    quantity          quantities ("500m", "128Mi") exactly
    resources         requests and limits, the QoS class
    admission         does a pod fit on the node (the scheduler's NodeResourcesFit)
    cgroup_values     what the kubelet writes into cgroups, as values
    sysctls           which sysctls a pod may set
    exec_protocol     the exec channel protocol (v4.channel.k8s.io), for both ends
"""
