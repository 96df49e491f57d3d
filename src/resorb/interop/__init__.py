"""resorb.interop."""
