"""Project error types."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data, located: ``path:line: message`` (line None for whole-file problems)."""

    def __init__(self, path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
