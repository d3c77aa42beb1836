"""forked.Forked: work in a child process on another core, with the result (or the error) a
plain call would give. The fork cases run in a fresh interpreter: a test worker may have other
threads running (a stand-in server of an earlier test), and then Forked rightly does not fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from forksync.forked import Forked


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter with only its main thread; its standard output."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from forksync.forked import Forked\nimport os, time\n" + textwrap.dedent(code),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_result_comes_from_a_child_process() -> None:
    out = _fresh("""
        job = Forked(lambda: (os.getpid(), [n * n for n in range(5)]))
        pid, squares = job.result()
        print(pid != os.getpid(), squares)
    """)
    assert out == "True [0, 1, 4, 9, 16]"


def test_a_large_result_crosses_the_pipe_whole() -> None:
    """More than a pipe's buffer: the child blocks until the parent reads, and nothing is lost."""
    out = _fresh("""
        job = Forked(lambda: "x" * 5_000_000)
        print(job.pid != 0, job.result() == "x" * 5_000_000)
    """)
    assert out == "True True"


def test_an_error_in_the_child_is_met_again_here_as_a_plain_call_would() -> None:
    out = _fresh("""
        calls = []
        def failing():
            calls.append(os.getpid())
            raise ValueError("bad input")
        job = Forked(failing)
        try:
            job.result()
        except ValueError as exc:
            print(job.pid == 0, exc, calls == [os.getpid()])  # the child's attempt is not in this memory
    """)
    assert out == "True bad input True"


def test_cancel_stops_a_child_that_is_still_running() -> None:
    out = _fresh("""
        job = Forked(lambda: time.sleep(30))
        pid, start = job.pid, time.monotonic()
        job.cancel()
        try:
            os.kill(pid, 0)
            print("still there")
        except ProcessLookupError:
            print(pid != 0, time.monotonic() - start < 5)  # killed and reaped
    """)
    assert out == "True True"


def test_leaving_the_block_by_an_error_stops_the_child() -> None:
    out = _fresh("""
        try:
            with Forked(lambda: time.sleep(30)) as job:
                pid = job.pid
                raise RuntimeError("the caller failed")
        except RuntimeError:
            pass
        try:
            os.kill(pid, 0)
            print("still there")
        except ProcessLookupError:
            print(pid != 0)
    """)
    assert out == "True"


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
