"""The exec channel protocol, Kubernetes' own (v4.channel.k8s.io), shared by
the daemon's end (minipod.api.pod_exec) and the CLI's (minipod.cli.exec_client).

Every binary WebSocket message starts with one byte naming its channel:
    0 stdin   client -> daemon; an empty message is EOF
    1 stdout  daemon -> client
    2 stderr  daemon -> client
    3 status  daemon -> client, once, at the end: a v1 Status as JSON, with
              the exit code (kubectl reads it the same way)
    4 resize  client -> daemon: {"Width": cols, "Height": rows}
v5.channel.k8s.io adds one message, [255, channel]: that stream is closed
(stdin's EOF, where v4 sends an empty stdin message).
"""

SUBPROTOCOL = "v4.channel.k8s.io"  # what minipod's own CLI asks for
# What the daemon accepts, v5 first: kubectl 1.30+ asks for it; v4 for
# older clients and minipod's own.
PROTOCOLS = ("v5.channel.k8s.io", SUBPROTOCOL)
STDIN, STDOUT, STDERR, STATUS, RESIZE = range(5)
CLOSE = 255  # v5: [CLOSE, channel] closes that stream
