"""Ctrl-C (SIGINT) and a CI runner's cancel or time-out (SIGTERM) end a sync cleanly.

While a sync runs, the first of these signals raises `Interrupted` in the main thread: the
running check's process group is killed on the way out (sandbox.run), the worktree removed,
the lock released, and the report says `interrupted` with the stage it stopped in. Signals that
arrive while that cleanup runs are only recorded, so that the cleanup itself is not cut short.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A sync stopped by a signal; ``exit_code`` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {self.name}")


_deferring = False
_received: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    if not _deferring and len(_received) == 1:
        raise Interrupted(signum)


@contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    old = {sig: signal.signal(sig, _handler) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold signals back (record them only) while cleaning up."""
    global _deferring
    before, _deferring = _deferring, True
    try:
        yield
    finally:
        _deferring = before


def received() -> list[int]:
    return list(_received)
