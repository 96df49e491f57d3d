"""resorb.imaging."""
