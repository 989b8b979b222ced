"""What the tests share: one daemon per session, one pod builder, one `sh`,
one `eventually`, and the host's view of the kernel objects a pod is made of.

The test files import these modules by name (`from helpers.pods import pod`);
the fixtures (`mp`, `fresh_mp`, `pod_name`, `pods`, `net`, `registry`, ...)
reach every test through tests/conftest.py, which loads the modules below as
pytest plugins, so no test imports a fixture.

Read them in this order:

    host       sh (a host command), eventually (poll until true), free_port,
               http_get, wait_listening: no minipod in them
    instance   a minipod instance (its own --root, bridge and subnet) with its
               daemon; the fixtures mp, fresh_mp and pod_name
    pods       the pod builder (ctr, pod, pod_yaml, manifest), the `pods`
               fixture that deletes a test's pods, pod_sh (exec in a pod)
    procfs     the host's /proc: namespaces, capabilities, mount tables
    cli        reading the CLI's output: tables, names, errors, events
    network    an instance's pod network as the host sees it, and a netns
               standing for another machine
    cni        a private network per test for the CNI plugins (fixture net)
    registry   registries on loopback and images to push into them
    cri        an instance serving the CRI, and the generated gRPC stubs
"""

import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
MANIFESTS = os.path.join(TESTS, "manifests")
