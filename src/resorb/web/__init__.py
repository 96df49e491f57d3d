"""resorb.web."""
