"""The command line: a thin layer over the Python API, with the one error boundary."""


def main() -> None:
    """The `synthgen` console script."""
    from synthgen.cli.app import main as run_cli

    run_cli()
