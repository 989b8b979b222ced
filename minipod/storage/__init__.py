"""minipod.storage: PersistentVolumeClaims, PersistentVolumes and
StorageClasses, the local-path provisioner and generic ephemeral volumes.

Read in this order:
    validate     the API server's defaults, validation and immutable fields
                 of the three kinds (pure)
    binding      which volume a claim binds to, and what binding writes (pure)
    pod_claims   a pod's claims as the scheduler sees them: its messages,
                 ephemeral claims, claim_from_template() (pure)
    local_path   the provisioner: a directory per claim under the
                 instance's storage root, and its PersistentVolume
    controller   the controllers (binder, provisioner, ephemeral volumes,
                 pvc/pv protection), acting through the object store
The pod side is one hook each: pod/admission.py asks controller's
scheduling_check(), pod/volumes.py mounts what claim_sources() gives.
"""
