"""The parts of `run`'s loop in pipeline.py: screen, rounds, outputs (not `synthgen.run`, which
is the API function)."""
