"""synthgen: synthetic instruction data with provenance, budgets and judges."""

__version__ = "0.1.0"
