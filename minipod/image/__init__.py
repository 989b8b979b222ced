"""Images: the local content-addressed store, and how images get into it.

Read the modules in this order:

    refs              image names, media types and platforms: the shared vocabulary
    store             the store: blobs, unpacked layers, index.json; lookup, import, remove
    locks             the store's locks, for the daemon, pulls and the CLI at once
    layers            layer tars: reading archives, unpacking safely
    import_archive    staging the images of a `docker save` or OCI archive
    registry_config   where a pull may fetch from, with what credentials
    registry          a client for OCI registries (the pull side of the distribution spec)
    pull              one pull, in a process of its own
    pull_coordinator  pulls, daemon side: one process per pull, progress to listeners
    pull_secrets      the v1 Secrets a manifest carries, for imagePullSecrets
    base              the offline base image (busybox:1.35) from the host's busybox
    busybox_applets   the applets the real busybox image has, for that base image
"""
