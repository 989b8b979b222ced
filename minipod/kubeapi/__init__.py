"""The Kubernetes API over HTTPS, for kubectl and the official clients.

certs.py       the instance's CA, server and admin certificates (first start)
tokens.py      ServiceAccount tokens: signed JWTs bound to a pod
kubeconfig.py  ETC/admin.kubeconfig, and merging it into ~/.kube/config
server.py      the HTTPS site: TLS, authentication, routes
auth.py        who is asking, and may they
reviews.py     `kubectl auth can-i`: the access reviews
token_request.py  serviceaccounts/NAME/token: `kubectl create token`
discovery.py   /version, /api, /apis, aggregated discovery
openapi.py     /openapi/v2 and /openapi/v3 from the official schemas
openapi_proto.py  /openapi/v2 in protobuf (kubectl validates a List with it)
schemas.py     the official JSON schemas, and strict field validation
rest.py        the verbs on every kind: get, list, watch, create, ...
protobuf.py    protobuf bodies, read into the same dicts as JSON
watching.py    watches: a stream of JSON lines
patches.py     JSON, merge and strategic merge patches; server-side apply
strategic.py   strategic merge patch
managed.py     managedFields: which manager set which field
tables.py      Table responses, for `kubectl get`
streams.py     log, exec, attach, port-forward
portforward.py port-forward over a WebSocket
"""
