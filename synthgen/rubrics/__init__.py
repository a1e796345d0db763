"""Bundled judge rubrics (YAML)."""
