"""minipod.kube."""
