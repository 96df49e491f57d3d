"""resorb.reports."""
