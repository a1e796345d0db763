"""One exception tree; each error knows its exit code, and the CLI maps them in one place."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_STOPPED = 3
EXIT_INTERRUPTED = 130


class SynthgenError(Exception):
    """Base of every error synthgen raises on purpose; `hint` says how to fix it."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The message as the CLI prints it, with the how-to-fix hint when there is one."""
        return f"{self.message}\n  how to fix: {self.hint}" if self.hint else self.message


class UsageError(SynthgenError):
    """Bad options or configuration."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration file or setting is invalid."""


class InputError(UsageError):
    """An input file is unreadable or malformed; the message names file, line and field."""

    def __init__(
        self,
        path: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{path}:{line}" if line is not None else path
        what = f'field "{field}": {message}' if field else message
        super().__init__(f"{where}: {what}", hint=hint)
        self.path = path
        self.line = line
        self.field = field


class EndpointError(SynthgenError):
    """The endpoint failed in a way retries cannot fix (after retries, or a fatal status)."""


class EndpointConfigError(UsageError):
    """The endpoint refused us for a reason the user must fix (key, model name, URL)."""


class EndpointUnreachable(EndpointConfigError):
    """Nothing ever connected to the endpoint: a wrong URL or a server not running (exit 2)."""


class StoppedError(SynthgenError):
    """A budget or quality gate stopped the run cleanly; rerunning resumes."""

    exit_code = EXIT_STOPPED


class BudgetExceeded(StoppedError):
    """A hard cost or token cap was reached."""


class Interrupted(SynthgenError):
    """The user pressed Ctrl-C; what was done is written and the run is resumable."""

    exit_code = EXIT_INTERRUPTED
