"""Run one function in a forked child process while the caller goes on: pure-Python work (the
verification checks) spread over two cores, where threads would share one (the GIL).

The child inherits everything in memory at the fork (nothing is pickled on the way in) and
sends back its pickled result through a pipe. Where `os.fork` is missing, or the child fails in
any way, the function runs in the caller instead, so a result or an error is the one a plain
call would have given. So it does while other threads run: a lock one of them held at the fork
would stay held in the child.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class Forked(Generic[T]):
    """``fn()`` started in a child; ``result()`` waits for it. Used as a context manager
    (``with Forked(fn) as job: ...; job.result()``): leaving the block by an error stops the
    child, which could otherwise wait forever on a full pipe."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.pid = 0
        self.read_fd = -1
        if not hasattr(os, "fork") or os.environ.get("FORKSYNC_NO_FORK") or threading.active_count() > 1:
            return  # another thread could hold a lock the child would wait on forever
        sys.stdout.flush()  # else the child's exit could write the parent's buffered output twice
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without running the parent's clean-ups
            os.close(read_fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handlers clean up its run
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                payload = pickle.dumps((True, fn()))
            except BaseException:  # the parent runs it again and meets the error itself
                payload = pickle.dumps((False, None))
            try:
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(payload)
            finally:
                os._exit(0)
        os.close(write_fd)
        self.pid, self.read_fd = pid, read_fd

    def __enter__(self) -> Forked[T]:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.cancel()  # after result() there is nothing left to stop

    def result(self) -> T:
        if not self.pid:
            return self.fn()
        with os.fdopen(self.read_fd, "rb") as pipe:
            data = pipe.read()
        os.waitpid(self.pid, 0)
        self.pid = 0
        try:
            ok, value = pickle.loads(data) if data else (False, None)
        except Exception:  # a truncated payload (the child was killed): run it here
            ok, value = False, None
        return cast(T, value) if ok else self.fn()

    def cancel(self) -> None:
        """Stop the child, if it still runs (the caller failed and will not read its result)."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):  # already closed when result() itself was interrupted
                os.close(self.read_fd)
            os.waitpid(self.pid, 0)
            self.pid = 0
