"""resorb.registry."""
