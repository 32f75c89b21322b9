"""Dagster assets, one per table, grouped by layer; thin wrappers around `core` and `privacy`."""
