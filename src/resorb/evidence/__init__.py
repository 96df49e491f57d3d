"""resorb.evidence."""
