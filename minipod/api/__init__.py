"""minipod.api."""
