"""resorb.mechanism."""
