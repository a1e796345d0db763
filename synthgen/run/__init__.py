"""`synthgen run`: the parts of the run loop in pipeline.py (screen, rounds, outputs)."""
