"""The daemon's HTTP API, over a Unix socket: one daemon per instance owns
every pod's state and serves it. Read the modules in this order:

    daemon    start-up (lock, adoption of running pods), the routes, shut-down
    status    errors as the Kubernetes API answers them (a v1 Status)
    pod_logs  streaming handlers: container logs and events
    pod_exec  `minipod exec` over a WebSocket (v4.channel.k8s.io)
"""
