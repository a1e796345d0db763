"""Click commands that live outside cli.py, loaded only when invoked (see cli.LAZY_COMMANDS)."""
