"""The Linux side of a pod: what runs in forked children, no asyncio.

One module per kernel concept; the daemon (minipod.pod) decides, these
modules act, in the processes that become a pod's PID 1 and its containers.
Read them in this order:

    syscalls          the only ctypes module: unshare, setns, mount, pivot_root, ...
    sandbox           the pod sandbox: its shared namespaces and its PID 1
    userns            hostUsers: false: the pod's user namespace, its id range, id-mapped mounts
    launch_spec       from a container in a Pod spec to a launch plan (env, argv, mounts)
    launch_security   the security part of that plan, from the securityContext
    launch            starting containers and exec sessions (fork, setns, the monitor)
    fork_server       the small process that forks containers and sandboxes for the daemon
    rootfs            a container's root filesystem: overlayfs, pivot_root, /proc, /dev
    credentials       who a container process is: user resolution, groups, switching user
    capabilities      capabilities(7), via python-prctl
    seccomp           seccomp filters from OCI/Docker profiles (seccomp_profiles/)
    volume_ownership  fsGroup: a pod's volumes owned by its group
    cgroups           the control groups of pods and containers
"""
