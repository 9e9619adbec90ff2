"""Allocation sets on the service side: finance's rule files, signed and stored (spec §7.8)."""
