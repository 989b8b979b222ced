"""Services, their endpoints, the data path and cluster DNS: what
kube-apiserver, kube-controller-manager, kube-proxy and CoreDNS do for a
Service on a node. Read the modules in this order:

    config          the instance's service CIDR and DNS address (chosen once)
    service_spec    a Service validated and defaulted as the API server does (pure)
    allocate        ClusterIPs and NodePorts from what is in use (pure)
    admission       the store's step for Services: validate, default, allocate
    endpoints       EndpointSlices and Endpoints of a Service from its pods (pure)
    endpoint_controller  keeps them current (a controller of minipod/controllers/)
    reconcile_loop  a full-resync loop over the store's watch hub (the proxy's)
    proxy_rules     the nftables ruleset of kube-proxy's nftables mode (pure)
    proxy           applies it atomically when Services or slices change
    service_env     the <NAME>_SERVICE_HOST ... variables of a container (pure)
    dns_answers     cluster DNS answers from the store's objects (pure)
    dns_server      the DNS server on the daemon's event loop (UDP and TCP)
"""
