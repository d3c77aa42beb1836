"""Context.memo across threads: the resolve engine's read-ahead threads and its rules share it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.model import Context


def _ctx(tmp_path: Path) -> Context:
    return Context(tmp_path, Git(tmp_path), Config())


def test_a_value_being_made_is_waited_for_not_made_twice(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    made: list[str] = []
    started = threading.Event()

    def slow() -> object:
        made.append(threading.current_thread().name)
        started.set()
        time.sleep(0.3)
        return "index"

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(ctx.memo, "learned.index", slow)
        started.wait(5)
        second = ctx.memo("learned.index", lambda: "made again")  # asked while the first is making it
    assert first.result() == second == "index"
    assert len(made) == 1


def test_when_the_maker_fails_a_waiting_thread_makes_it_itself(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    started = threading.Event()

    def failing() -> object:
        started.set()
        time.sleep(0.2)
        raise OSError("git failed")

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(ctx.memo, "history.facts", failing)
        started.wait(5)
        value = ctx.memo("history.facts", lambda: "facts")
    with pytest.raises(OSError, match="git failed"):
        first.result()
    assert value == "facts" and ctx.cache["history.facts"] == "facts"
