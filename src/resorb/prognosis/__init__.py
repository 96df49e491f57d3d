"""resorb.prognosis."""
