"""resorb.therapy."""
