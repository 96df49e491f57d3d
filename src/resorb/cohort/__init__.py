"""resorb.cohort."""
