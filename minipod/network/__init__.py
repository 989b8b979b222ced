"""minipod.network."""
