"""minipod.image."""
