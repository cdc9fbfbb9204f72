"""Project error types.

Everything a *user* can cause (a bad path, config value, data line, a missing optional extra, a
run that cannot go on) derives from :class:`TracesftError`; the CLI prints those as one
``error: ...`` line and exits non-zero. Anything else is a bug and keeps its traceback. Each type
also derives from the built-in type callers would expect (``ValueError``, ``ImportError``,
``RuntimeError``), so ``except ValueError`` around library calls keeps working.
"""

from __future__ import annotations

__all__ = ["TracesftError", "UserInputError", "ConfigError", "DataError", "MissingExtraError", "TrainingError",
           "BackendUnavailableError"]


class TracesftError(Exception):
    """Base of the errors a user can fix; the message says what and where."""

    exit_code = 2


class UserInputError(TracesftError, ValueError):
    """A bad argument, path or option value."""


class ConfigError(UserInputError):
    """A bad configuration key or value; the message names the key and what is allowed."""


class DataError(UserInputError):
    """Bad input data, located: ``path:line: message`` (line None for whole-file problems)."""

    def __init__(self, path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class MissingExtraError(TracesftError, ImportError):
    """An optional capability whose extra is not installed: names the extra to install."""

    def __init__(self, feature: str, extra: str, hint: str | None = None) -> None:
        self.feature = feature
        self.extra = extra
        hint = hint or f"pip install 'tracesft[{extra}]'"
        super().__init__(f"{feature} needs the optional extra '{extra}': {hint}")


class TrainingError(TracesftError, RuntimeError):
    """A run that cannot go on (non-finite loss, out of memory); the message says what to do."""

    exit_code = 1


class BackendUnavailableError(TracesftError, RuntimeError):
    """A backend that cannot run on this machine (e.g. no GPU for it); the message says why."""

    exit_code = 1
