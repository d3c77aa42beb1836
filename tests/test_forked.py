"""forked.Forked: work in a child process on another core, with the result (or the error) a
plain call would give."""

from __future__ import annotations

import os
import threading
import time

import pytest

from forksync.forked import Forked


def test_the_result_comes_from_a_child_process() -> None:
    job = Forked(lambda: (os.getpid(), [n * n for n in range(5)]))
    pid, squares = job.result()
    assert pid != os.getpid() and squares == [0, 1, 4, 9, 16]


def test_a_large_result_crosses_the_pipe_whole() -> None:
    """More than a pipe's buffer: the child blocks until the parent reads, and nothing is lost."""
    job = Forked(lambda: "x" * 5_000_000)
    assert job.result() == "x" * 5_000_000


def test_an_error_in_the_child_is_met_again_here_as_a_plain_call_would() -> None:
    calls: list[int] = []

    def failing() -> int:
        calls.append(os.getpid())
        raise ValueError("bad input")

    job = Forked(failing)
    with pytest.raises(ValueError, match="bad input"):
        job.result()
    assert calls == [os.getpid()]  # the child's attempt is not in this process's memory


def test_cancel_stops_a_child_that_is_still_running() -> None:
    job = Forked(lambda: time.sleep(30))
    pid = job.pid
    start = time.monotonic()
    job.cancel()
    assert time.monotonic() - start < 5
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no such process any more


def test_without_fork_the_work_runs_in_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORKSYNC_NO_FORK", "1")
    job = Forked(os.getpid)
    assert job.pid == 0 and job.result() == os.getpid()


def test_while_another_thread_runs_the_work_runs_in_the_caller() -> None:
    """A lock another thread holds at the fork would stay held in the child: no fork then."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        job = Forked(os.getpid)
        assert job.pid == 0 and job.result() == os.getpid()
    finally:
        stop.set()
        other.join()
