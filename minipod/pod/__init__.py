"""minipod.pod: one pod's life, from its record to its processes.

Files are named object + verb, as containerd's CRI server names them. Read
them in this order:

    record          the typed runtime record: ContainerState and every
                    transition; record_migrate reads older formats
    status          the v1 status computed from the record (phase,
                    conditions, container statuses): pure
    decide          what one sync must do (the kubelet's computePodActions):
                    pure, from the record, the probe results and the time
    worker          the pod's loop: decide, then act, then save
    sandbox_run     make the sandbox: dirs, volumes, /etc files, namespaces,
                    the network
    sandbox_stop    stop a pod being deleted, kill its sandbox
    container_start one start of one container: prepare, launch, postStart
    container_stop  one stop: Killing, preStop, the stop signal, SIGKILL
    volumes         where each volume lives and what each container mounts
    exits           a container's exit, as its monitor wrote it down; the
                    pidfd watch on the monitors
    image_pull      a container's image, pulled when its policy says so
    probes          run probes; publish their results, never act
    handlers        exec/httpGet/tcpSocket/sleep actions of probes and hooks
    recovery        a restarted daemon takes its pods back
    piecewise       a pod built step by step by its front door (the CRI):
                    containers added, started, stopped, removed one by one
    events          the pod's events (and warnings in the daemon's log)
    inspect         the kernel objects of a pod, for `minipod inspect`
    manager         every pod of an instance: apply, get, delete, images
    run_wait        what `minipod run` waits for
    store           the pod files on disk, atomically written
    admission, node_config, record_check, etc_files: what they say
"""
