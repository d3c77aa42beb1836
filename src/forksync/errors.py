"""User-facing errors: one class per failure kind, each with its own exit code.

Every error that reaches the CLI is printed as one line (no traceback) and exits with
``exit_code``, so CI can branch on the kind of failure.
"""

from __future__ import annotations


class ExitCode:
    """Process exit codes; stable, documented in the README."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    GIT = 4  # local repository problem: dirty tree, missing branch, unwritable repo
    UPSTREAM = 5  # upstream unreachable, no matching tags, tag not found
    CONFLICTS_LEFT = 6
    CHECKS_FAILED = 7
    FORGE = 8
    VERIFY_FAILED = 9
    SYNC_DUE = 10  # `forksync check`: a newer upstream release is waiting
    LOCKED = 11
    BUDGET = 12
    GATED = 13
    REFUSED = 14  # `forksync publish`: the export is malformed or claims what git does not bear out


class ForksyncError(Exception):
    """Base of every error meant for the user: ``str(err)`` is the one-line message."""

    exit_code = ExitCode.INTERNAL
    kind = "internal"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigError(ForksyncError):
    exit_code = ExitCode.CONFIG
    kind = "config"


class GitError(ForksyncError):
    exit_code = ExitCode.GIT
    kind = "git"


class UpstreamError(ForksyncError):
    exit_code = ExitCode.UPSTREAM
    kind = "upstream"


class ForgeError(ForksyncError):
    exit_code = ExitCode.FORGE
    kind = "forge"


class LockedError(ForksyncError):
    exit_code = ExitCode.LOCKED
    kind = "locked"


class BudgetExceeded(ForksyncError):
    exit_code = ExitCode.BUDGET
    kind = "budget"


class GateError(ForksyncError):
    exit_code = ExitCode.GATED
    kind = "gated"
