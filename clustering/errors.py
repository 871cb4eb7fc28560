"""Errors a user can act on.

Every error raised for bad input or impossible settings derives from
:class:`ClusteringError`. The command line prints its message on one line and
exits with status 2, without a traceback; anything else is a bug.
"""

from __future__ import annotations

__all__ = ["ClusteringError", "InfeasibleError", "InputError", "SolverError"]


class ClusteringError(Exception):
    """Base class of errors caused by the input or the settings, not by a bug."""


class InputError(ClusteringError, ValueError):
    """Bad input data, located by file, row and column.

    Parameters
    ----------
    message
        What is wrong, e.g. ``"latitude 137.2 is outside -90..90"``.
    file
        The file (or a description such as ``"<DataFrame>"``).
    row
        The row as a spreadsheet shows it: the header is row 1, the first data row is row 2.
    column
        The column as it is named in the file.
    fix
        How to fix it, in a few words.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class InfeasibleError(ClusteringError):
    """The settings cannot all hold for these centres; the message says which conflict."""


class SolverError(ClusteringError):
    """The solver found no layout within its limits; the message says what to change."""
