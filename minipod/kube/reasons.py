"""Reasons, as the kubelet and the API server spell them.

One name per string that the status or an event carries, so a typo is an
import error, not a silently different reason. Grouped by where they show.
"""

# Waiting reasons of a container (status.containerStatuses[].state.waiting).
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"
CREATE_CONTAINER_ERROR = "CreateContainerError"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
RUN_CONTAINER_ERROR = "RunContainerError"

# Terminated reasons (state.terminated.reason).
COMPLETED = "Completed"
ERROR = "Error"
START_ERROR = "StartError"
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"
OOM_KILLED = "OOMKilled"

# Pod condition reasons.
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
CONTAINERS_NOT_READY = "ContainersNotReady"
POD_COMPLETED = "PodCompleted"

# Event reasons (kubelet: pkg/kubelet/events/event.go).
SCHEDULED = "Scheduled"
FAILED_SCHEDULING = "FailedScheduling"
PULLING = "Pulling"
PULLED = "Pulled"
CREATED = "Created"
STARTED = "Started"
KILLING = "Killing"
FAILED = "Failed"
BACK_OFF = "BackOff"
UNHEALTHY = "Unhealthy"
OOM_KILLING = "OOMKilling"
FAILED_POST_START_HOOK = "FailedPostStartHook"
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
SANDBOX_CHANGED = "SandboxChanged"
FAILED_CREATE_POD_SANDBOX = "FailedCreatePodSandBox"
FAILED_KILL_POD = "FailedKillPod"
FAILED_SYNC = "FailedSync"

# Event types.
NORMAL = "Normal"
WARNING = "Warning"
