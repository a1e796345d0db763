"""`run`'s loop, in one package: rounds of expand → screen → judge → keep, their sizing,
gates and outputs (not `synthgen.run`, which is the API function)."""
