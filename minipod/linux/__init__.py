"""minipod.linux."""
