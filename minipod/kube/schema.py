"""The Kubernetes v1 Pod, written down as plain Python data.

This module holds no logic: it is a table of every field a v1 Pod may have,
following the Kubernetes API reference for core/v1 Pod (the Go types in the
Kubernetes source, k8s.io/api/core/v1). minipod.kube.validate walks a manifest
and this table side by side to find unknown fields and wrong types.

How a type is written:

    "string"          a YAML string. Careful: 80 is an integer, "80" a string.
    "integer"         a YAML integer (an int64). A quoted "80" is NOT an
                      integer here, exactly as the Kubernetes API server refuses it.
    "int32"           an integer that Kubernetes keeps in 32 bits.
    "boolean"         true or false.
    "quantity"        an amount of a resource: 2, 0.5, "500m", "128Mi".
    "int-or-string"   either, e.g. a probe port: 8080 or "http".
    "time"            a timestamp such as "2024-05-01T10:00:00Z".
    "object"          a map whose inside we do not check (we do not run it).
    "any"             anything at all (only the status block uses it).
    {"enum": [...]}   a string that must be one of the listed values.
    {"map": T}        a map from string keys to values of type T.
    ["list", T]       a list whose items all have type T.
    {field: T, ...}   a struct: exactly these fields, each optional here.
                      Which fields are required is checked by
                      minipod.kube.validate, because it depends on context.

The tables are ordered bottom-up: small structs first, the Pod last.
"""

STRINGS = ["list", "string"]
STRING_MAP = {"map": "string"}
QUANTITY_MAP = {"map": "quantity"}

# ---------------------------------------------------------------- metadata

OWNER_REFERENCE = {
    "apiVersion": "string",
    "kind": "string",
    "name": "string",
    "uid": "string",
    "controller": "boolean",
    "blockOwnerDeletion": "boolean",
}

MANAGED_FIELDS_ENTRY = {
    "manager": "string",
    "operation": "string",
    "apiVersion": "string",
    "time": "time",
    "fieldsType": "string",
    "fieldsV1": "object",
    "subresource": "string",
}

OBJECT_META = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "labels": STRING_MAP,
    "annotations": STRING_MAP,
    # Written by the API server; accepted so that `kubectl get -o yaml`
    # output can be fed back in.
    "uid": "string",
    "resourceVersion": "string",
    "generation": "integer",
    "creationTimestamp": "time",
    "deletionTimestamp": "time",
    "deletionGracePeriodSeconds": "integer",
    "ownerReferences": ["list", OWNER_REFERENCE],
    "finalizers": STRINGS,
    "managedFields": ["list", MANAGED_FIELDS_ENTRY],
    "selfLink": "string",
}

# ------------------------------------------------------- container parts

PROTOCOL = {"enum": ["TCP", "UDP", "SCTP"]}

CONTAINER_PORT = {
    "name": "string",
    "containerPort": "integer",
    "protocol": PROTOCOL,
    "hostPort": "integer",
    "hostIP": "string",
}

OBJECT_FIELD_SELECTOR = {"apiVersion": "string", "fieldPath": "string"}

RESOURCE_FIELD_SELECTOR = {
    "containerName": "string",
    "resource": "string",
    "divisor": "quantity",
}

# configMapKeyRef and secretKeyRef have the same shape.
KEY_SELECTOR = {"name": "string", "key": "string", "optional": "boolean"}

FILE_KEY_SELECTOR = {
    "volumeName": "string",
    "path": "string",
    "key": "string",
    "optional": "boolean",
}

ENV_VAR_SOURCE = {
    "fieldRef": OBJECT_FIELD_SELECTOR,
    "resourceFieldRef": RESOURCE_FIELD_SELECTOR,
    "configMapKeyRef": KEY_SELECTOR,
    "secretKeyRef": KEY_SELECTOR,
    "fileKeyRef": FILE_KEY_SELECTOR,
}

ENV_VAR = {"name": "string", "value": "string", "valueFrom": ENV_VAR_SOURCE}

# The pod fields an env var may copy with valueFrom.fieldRef.fieldPath.
# "<key>" stands for any label or annotation key.
ENV_FIELD_PATHS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels['<key>']",
    "metadata.annotations['<key>']",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]

OPTIONAL_REFERENCE = {"name": "string", "optional": "boolean"}

ENV_FROM_SOURCE = {
    "prefix": "string",
    "configMapRef": OPTIONAL_REFERENCE,
    "secretRef": OPTIONAL_REFERENCE,
}

RESOURCE_REQUIREMENTS = {
    "limits": QUANTITY_MAP,
    "requests": QUANTITY_MAP,
    "claims": ["list", {"name": "string", "request": "string"}],
}

CONTAINER_RESIZE_POLICY = {
    "resourceName": "string",
    "restartPolicy": {"enum": ["NotRequired", "RestartContainer"]},
}

CONTAINER_RESTART_RULE = {
    "action": {"enum": ["Restart"]},
    "exitCodes": {"operator": {"enum": ["In", "NotIn"]}, "values": ["list", "integer"]},
}

VOLUME_MOUNT = {
    "name": "string",
    "mountPath": "string",
    "readOnly": "boolean",
    "recursiveReadOnly": {"enum": ["Disabled", "IfPossible", "Enabled"]},
    "subPath": "string",
    "subPathExpr": "string",
    "mountPropagation": {"enum": ["None", "HostToContainer", "Bidirectional"]},
}

VOLUME_DEVICE = {"name": "string", "devicePath": "string"}

# Actions shared by probes and lifecycle hooks.
EXEC_ACTION = {"command": STRINGS}

HTTP_GET_ACTION = {
    "path": "string",
    "port": "int-or-string",
    "host": "string",
    "scheme": {"enum": ["HTTP", "HTTPS"]},
    "httpHeaders": ["list", {"name": "string", "value": "string"}],
}

TCP_SOCKET_ACTION = {"port": "int-or-string", "host": "string"}

PROBE = {
    "exec": EXEC_ACTION,
    "httpGet": HTTP_GET_ACTION,
    "tcpSocket": TCP_SOCKET_ACTION,
    "grpc": {"port": "int32", "service": "string"},
    "initialDelaySeconds": "int32",
    "timeoutSeconds": "int32",
    "periodSeconds": "int32",
    "successThreshold": "int32",
    "failureThreshold": "int32",
    "terminationGracePeriodSeconds": "integer",
}

LIFECYCLE_HANDLER = {
    "exec": EXEC_ACTION,
    "httpGet": HTTP_GET_ACTION,
    "tcpSocket": TCP_SOCKET_ACTION,
    "sleep": {"seconds": "integer"},
}

LIFECYCLE = {
    "postStart": LIFECYCLE_HANDLER,
    "preStop": LIFECYCLE_HANDLER,
    "stopSignal": "string",
}

SE_LINUX_OPTIONS = {"user": "string", "role": "string", "type": "string", "level": "string"}

WINDOWS_OPTIONS = {
    "gmsaCredentialSpecName": "string",
    "gmsaCredentialSpec": "string",
    "runAsUserName": "string",
    "hostProcess": "boolean",
}

# seccompProfile and appArmorProfile have the same shape.
PROFILE = {
    "type": {"enum": ["RuntimeDefault", "Unconfined", "Localhost"]},
    "localhostProfile": "string",
}

SECURITY_CONTEXT = {
    "capabilities": {"add": STRINGS, "drop": STRINGS},
    "privileged": "boolean",
    "seLinuxOptions": SE_LINUX_OPTIONS,
    "windowsOptions": WINDOWS_OPTIONS,
    "runAsUser": "integer",
    "runAsGroup": "integer",
    "runAsNonRoot": "boolean",
    "readOnlyRootFilesystem": "boolean",
    "allowPrivilegeEscalation": "boolean",
    "procMount": {"enum": ["Default", "Unmasked"]},
    "seccompProfile": PROFILE,
    "appArmorProfile": PROFILE,
}

# ------------------------------------------------------------- container

CONTAINER = {
    "name": "string",
    "image": "string",
    "command": STRINGS,
    "args": STRINGS,
    "workingDir": "string",
    "ports": ["list", CONTAINER_PORT],
    "env": ["list", ENV_VAR],
    "envFrom": ["list", ENV_FROM_SOURCE],
    "resources": RESOURCE_REQUIREMENTS,
    "resizePolicy": ["list", CONTAINER_RESIZE_POLICY],
    # Only init containers may set it, and only to Always ("sidecar").
    "restartPolicy": {"enum": ["Always"]},
    "restartPolicyRules": ["list", CONTAINER_RESTART_RULE],
    "volumeMounts": ["list", VOLUME_MOUNT],
    "volumeDevices": ["list", VOLUME_DEVICE],
    "livenessProbe": PROBE,
    "readinessProbe": PROBE,
    "startupProbe": PROBE,
    "lifecycle": LIFECYCLE,
    "terminationMessagePath": "string",
    "terminationMessagePolicy": {"enum": ["File", "FallbackToLogsOnError"]},
    "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "securityContext": SECURITY_CONTEXT,
    "stdin": "boolean",
    "stdinOnce": "boolean",
    "tty": "boolean",
}

# A debugging container added to a running pod: a Container plus the name
# of the container whose namespaces it joins.
EPHEMERAL_CONTAINER = {**CONTAINER, "targetContainerName": "string"}

# ---------------------------------------------------------------- volumes

EMPTY_DIR = {
    # "" (node disk), "Memory" (tmpfs), "HugePages" or "HugePages-<size>";
    # minipod.kube.validate checks the value.
    "medium": "string",
    "sizeLimit": "quantity",
}

HOST_PATH = {
    "path": "string",
    "type": {
        "enum": [
            "",
            "DirectoryOrCreate",
            "Directory",
            "FileOrCreate",
            "File",
            "Socket",
            "CharDevice",
            "BlockDevice",
        ]
    },
}

# configMap, secret, downwardAPI and projected volumes (pod/config_volumes.py).
KEY_TO_PATH = {"key": "string", "path": "string", "mode": "integer"}

CONFIG_MAP_VOLUME = {
    "name": "string",
    "items": ["list", KEY_TO_PATH],
    "defaultMode": "integer",
    "optional": "boolean",
}

SECRET_VOLUME = {
    "secretName": "string",
    "items": ["list", KEY_TO_PATH],
    "defaultMode": "integer",
    "optional": "boolean",
}

DOWNWARD_API_FILE = {
    "path": "string",
    "fieldRef": OBJECT_FIELD_SELECTOR,
    "resourceFieldRef": RESOURCE_FIELD_SELECTOR,
    "mode": "integer",
}

DOWNWARD_API_VOLUME = {"items": ["list", DOWNWARD_API_FILE], "defaultMode": "integer"}

VOLUME_PROJECTION = {
    "configMap": {"name": "string", "items": ["list", KEY_TO_PATH], "optional": "boolean"},
    "secret": {"name": "string", "items": ["list", KEY_TO_PATH], "optional": "boolean"},
    "downwardAPI": {"items": ["list", DOWNWARD_API_FILE]},
    "serviceAccountToken": {"audience": "string", "expirationSeconds": "integer", "path": "string"},
    "clusterTrustBundle": "object",
    "podCertificate": "object",
}

PROJECTED_VOLUME = {"sources": ["list", VOLUME_PROJECTION], "defaultMode": "integer"}

# The pod fields a downwardAPI volume file may hold.
VOLUME_FIELD_PATHS = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels['<key>']",
    "metadata.annotations['<key>']",
]

# Every kind of volume Kubernetes knows. A volume sets exactly one of them.
# Only the two minipod runs are described in detail; the others are
# recognised (so a typo still gets a "did you mean") but not looked into.
VOLUME_SOURCE = {
    "emptyDir": EMPTY_DIR,
    "hostPath": HOST_PATH,
    "configMap": CONFIG_MAP_VOLUME,
    "secret": SECRET_VOLUME,
    "persistentVolumeClaim": "object",
    "projected": PROJECTED_VOLUME,
    "downwardAPI": DOWNWARD_API_VOLUME,
    "ephemeral": "object",
    "csi": "object",
    "image": "object",
    "nfs": "object",
    "iscsi": "object",
    "fc": "object",
    "rbd": "object",
    "cephfs": "object",
    "glusterfs": "object",
    "cinder": "object",
    "flexVolume": "object",
    "flocker": "object",
    "gitRepo": "object",
    "gcePersistentDisk": "object",
    "awsElasticBlockStore": "object",
    "azureDisk": "object",
    "azureFile": "object",
    "vsphereVolume": "object",
    "photonPersistentDisk": "object",
    "portworxVolume": "object",
    "quobyte": "object",
    "scaleIO": "object",
    "storageos": "object",
}

VOLUME = {"name": "string", **VOLUME_SOURCE}

# ------------------------------------------------------------ pod parts

POD_SECURITY_CONTEXT = {
    "runAsUser": "integer",
    "runAsGroup": "integer",
    "runAsNonRoot": "boolean",
    "supplementalGroups": ["list", "integer"],
    "supplementalGroupsPolicy": {"enum": ["Merge", "Strict"]},
    "fsGroup": "integer",
    "fsGroupChangePolicy": {"enum": ["OnRootMismatch", "Always"]},
    "sysctls": ["list", {"name": "string", "value": "string"}],
    "seLinuxOptions": SE_LINUX_OPTIONS,
    "seLinuxChangePolicy": {"enum": ["MountOption", "Recursive"]},
    "windowsOptions": WINDOWS_OPTIONS,
    "seccompProfile": PROFILE,
    "appArmorProfile": PROFILE,
}

# Scheduling rules; they only matter with many nodes to choose from.
AFFINITY = {
    "nodeAffinity": "object",
    "podAffinity": "object",
    "podAntiAffinity": "object",
}

TOLERATION = {
    "key": "string",
    "operator": {"enum": ["Exists", "Equal"]},
    "value": "string",
    "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
    "tolerationSeconds": "integer",
}

NODE_INCLUSION_POLICY = {"enum": ["Honor", "Ignore"]}

TOPOLOGY_SPREAD_CONSTRAINT = {
    "maxSkew": "integer",
    "topologyKey": "string",
    "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
    "labelSelector": "object",
    "minDomains": "integer",
    "nodeAffinityPolicy": NODE_INCLUSION_POLICY,
    "nodeTaintsPolicy": NODE_INCLUSION_POLICY,
    "matchLabelKeys": STRINGS,
}

POD_DNS_CONFIG = {
    "nameservers": STRINGS,
    "searches": STRINGS,
    "options": ["list", {"name": "string", "value": "string"}],
}

HOST_ALIAS = {"ip": "string", "hostnames": STRINGS}

POD_RESOURCE_CLAIM = {
    "name": "string",
    "resourceClaimName": "string",
    "resourceClaimTemplateName": "string",
}

# ------------------------------------------------------------------ pod

# Containers come first on purpose: when a field is misplaced, the first
# struct (breadth first) that has it is named as its home, so "image" under
# spec is sent to spec.containers[] rather than to spec.volumes[].image.
POD_SPEC = {
    # What runs
    "containers": ["list", CONTAINER],
    "initContainers": ["list", CONTAINER],
    "ephemeralContainers": ["list", EPHEMERAL_CONTAINER],
    "volumes": ["list", VOLUME],
    "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]},
    "terminationGracePeriodSeconds": "integer",
    "activeDeadlineSeconds": "integer",
    "resources": RESOURCE_REQUIREMENTS,
    "overhead": QUANTITY_MAP,
    "os": {"name": {"enum": ["linux", "windows"]}},
    # Namespaces and identity
    "hostname": "string",
    "hostnameOverride": "string",
    "subdomain": "string",
    "setHostnameAsFQDN": "boolean",
    "hostNetwork": "boolean",
    "hostPID": "boolean",
    "hostIPC": "boolean",
    "shareProcessNamespace": "boolean",
    "hostUsers": "boolean",
    "securityContext": POD_SECURITY_CONTEXT,
    # DNS and /etc/hosts
    "dnsPolicy": {"enum": ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]},
    "dnsConfig": POD_DNS_CONFIG,
    "hostAliases": ["list", HOST_ALIAS],
    # Cluster services
    "serviceAccountName": "string",
    "serviceAccount": "string",  # deprecated alias of serviceAccountName
    "automountServiceAccountToken": "boolean",
    "enableServiceLinks": "boolean",
    "imagePullSecrets": ["list", {"name": "string"}],
    "runtimeClassName": "string",
    "resourceClaims": ["list", POD_RESOURCE_CLAIM],
    "readinessGates": ["list", {"conditionType": "string"}],
    # Scheduling
    "nodeName": "string",
    "nodeSelector": STRING_MAP,
    "affinity": AFFINITY,
    "tolerations": ["list", TOLERATION],
    "topologySpreadConstraints": ["list", TOPOLOGY_SPREAD_CONSTRAINT],
    "schedulerName": "string",
    "schedulingGates": ["list", {"name": "string"}],
    "priorityClassName": "string",
    "priority": "integer",
    "preemptionPolicy": {"enum": ["PreemptLowerPriority", "Never"]},
}

POD = {
    "apiVersion": "string",
    "kind": "string",
    "metadata": OBJECT_META,
    "spec": POD_SPEC,
    # What a cluster observed about the pod. Tools export it; we ignore it.
    "status": "any",
}
