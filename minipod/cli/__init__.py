"""minipod.cli."""
