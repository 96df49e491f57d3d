"""Tests of resorb.mechanism (a package so that module names such as test_cli stay unique)."""
