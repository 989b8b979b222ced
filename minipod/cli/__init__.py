"""The `minipod` command: a thin client of the daemon's API, kubectl's verbs
and output. It must start fast: no heavy imports at module level on its path.
Read the modules in this order:

    entry          main: the fast path, else click; errors as one line
    fast_path      `get pods`, `version`, `run`, `apply -f`, `delete pod`, `logs` without click
    pod_listing    what get, run and version print, for both ways in
    pod_actions    what run, apply, delete pod and logs do, for both ways in
    commands       the `minipod` group, click's main, and the inspect/version/daemon/kubeconfig/image verbs
    pod_commands   the pod verbs: run, apply, get, describe, logs, exec, delete, events
    create_commands  create configmap|secret: kubectl's generators
    context        what every command shares: the instance, its client, -n
    client         HTTP/JSON over the daemon's Unix socket; starting the daemon
    http_unix      HTTP/1.1 over a Unix socket, without http.client
    printers       output as kubectl prints it: tables, -o json/yaml/name/wide, describe
    pod_columns    the columns of `get pods` (READY, STATUS, RESTARTS), as kubectl computes them
    progress       a pull's progress lines
    exec_client    the client end of `minipod exec`
    inspect_graph  `inspect -o dot|svg|png`: a pod's anatomy as a picture
"""
