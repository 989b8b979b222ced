"""The pod network: every pod its own network namespace and IP address.

The runtime side pins each pod's netns and runs a CNI chain on it; the
plugins (cni/) do the work, callable in-process or as executables, and the
kernel objects they make go through netlink (links, addresses, routes) and
nftables (masquerade, hostPorts). NetworkPolicy is a table of its own,
kept in step with the object store. Read the modules in this order:

    pod_network   the runtime side: a pinned netns and a CNI chain per pod
    cni/          the CNI plugins and the protocol: skel, bridge, ipam, portmap
    netlink       links, addresses and routes: the only pyroute2 module
    nft           nftables rules in minipod's own table
    policy_rules  NetworkPolicy as an nftables table: plan and render (pure)
    policy_sync   the controller that keeps that table in step with the store
    bridge_netfilter  bridged pod traffic through the IP hooks (br_netfilter)
"""
