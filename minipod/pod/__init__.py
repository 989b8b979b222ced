"""minipod.pod."""
