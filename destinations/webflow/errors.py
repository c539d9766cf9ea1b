"""Typed errors of the destination: terminal ones stop the run, transient ones may be retried."""

from __future__ import annotations

from collections.abc import Sequence

from dlt.common.destination.exceptions import (
    DestinationTerminalException,
    DestinationTransientException,
)


class WebflowDestinationError(DestinationTerminalException):
    """Base of the destination's terminal errors: retrying cannot help."""


class SchemaMismatchError(WebflowDestinationError):
    """A target collection/field exists but cannot hold the source's values (type, options).

    Raised by the planner, before anything is written, listing every problem at once.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n  - ".join(self.problems)
        super().__init__(f"target schema is incompatible with the source:\n  - {lines}")


class MissingScopeError(WebflowDestinationError):
    """401/403 from the target: the token is wrong or lacks a scope; the run stops."""

    def __init__(self, message: str, scopes: Sequence[str] = ()) -> None:
        self.scopes = list(scopes)
        named = f" (missing scope: {', '.join(self.scopes)})" if self.scopes else ""
        super().__init__(f"the target token was refused{named}: {message}")


class StagingError(WebflowDestinationError):
    """The staging database lacks what the migration needs (not extracted, other site)."""


class TargetWriteError(DestinationTransientException):
    """A write failed in a way a retry of the batch may fix (5xx, connection lost)."""
