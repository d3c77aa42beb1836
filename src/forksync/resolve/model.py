"""Data the resolvers exchange. Sides are named by role (fork, upstream), never ours/theirs.

A conflicted path arrives as ``Versions`` (the three blobs). File resolvers may settle the
whole path; otherwise the path is merged line by line (``git merge-file``) and every
conflict hunk that remains is offered to the hunk resolvers in turn. Each decision carries
the rule that made it, a confidence, and a one-line reason that ends up in the report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ..config import Config
    from ..git import Git

ForkSide = Literal["ours", "theirs"]
Outcome = Literal["resolved", "unresolved"]


@dataclass(frozen=True)
class Versions:
    """The three versions of one conflicted path. ``None`` = absent on that side."""

    path: str
    base: bytes | None
    fork: bytes | None
    upstream: bytes | None
    base_mode: str | None = None
    fork_mode: str | None = None
    upstream_mode: str | None = None

    @property
    def kind(self) -> str:
        """content, add/add, fork-deleted, upstream-deleted, binary, submodule, symlink."""
        modes = {self.base_mode, self.fork_mode, self.upstream_mode} - {None}
        if "160000" in modes:
            return "submodule"
        if "120000" in modes:
            return "symlink"
        if self.fork is None:
            return "fork-deleted"
        if self.upstream is None:
            return "upstream-deleted"
        if any(is_binary(b) for b in (self.base, self.fork, self.upstream) if b is not None):
            return "binary"
        if self.base is None:
            return "add/add"
        return "content"


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


@dataclass(frozen=True)
class Hunk:
    """One conflict region of a line merge. Lines keep their line endings."""

    index: int  # 1-based within the file
    base: tuple[str, ...]
    fork: tuple[str, ...]
    upstream: tuple[str, ...]
    fork_start: int  # 1-based line number in the fork's version where the region starts
    before: tuple[str, ...] = ()  # up to a few stable lines of context before
    after: tuple[str, ...] = ()  # and after


@dataclass(frozen=True)
class Decision:
    """A resolver's answer. For a hunk: ``lines``; for a file: ``content`` (None = delete)."""

    rule: str  # "<resolver>" or "<resolver>:<detail>", e.g. "trivial:same-change"
    confidence: float  # 0..1; the engine applies it only at or above min-confidence
    reason: str  # one line, naming the evidence
    lines: tuple[str, ...] | None = None
    content: bytes | None = None
    delete: bool = False
    stop: bool = False  # "a person decides": no later resolver may settle this path
    # For file decisions: optional per-hunk explanations (e.g. per TOML key), shown in the report.
    details: tuple[str, ...] = ()


@dataclass
class Context:
    """What a resolver may consult. History-based helpers are computed lazily and cached."""

    repo: Path  # the worktree (or repository) where the merge happens
    git: Git
    config: Config
    fork_commit: str | None = None  # the fork side's commit (None inside a merge driver)
    upstream_commit: str | None = None
    base_commit: str | None = None
    upstream_version: str | None = None  # the release being merged, e.g. "1.2.3"
    new_version: str | None = None  # the version the sync sets in the version file
    # The checked-out side ("ours"). Where both sides add at one place, its additions come first,
    # as git's union merge does and as people did in 40 of 43 replayed litellm hunks.
    head: Literal["fork", "upstream"] = "fork"
    # Replaying the past (backtest): learn only from what was committed before this time (unix).
    as_of: int | None = None
    cache: dict[str, object] = field(default_factory=dict)

    def memo(self, key: str, make: Callable[[], object]) -> object:
        """``make()`` once per key, whichever thread asks first: a rule that needs what a read-ahead
        thread is still making waits for it instead of making it a second time."""
        while True:
            with _MEMO_LOCK:
                if key in self.cache:
                    return self.cache[key]
                running = _RUNNING.get((id(self.cache), key))
                if running is None:
                    running = _RUNNING[(id(self.cache), key)] = threading.Event()
                    break
            running.wait()  # then it is in the cache; or its maker failed, and this thread tries
        try:
            value = make()
            with _MEMO_LOCK:
                self.cache[key] = value
            return value
        finally:
            with _MEMO_LOCK:
                del _RUNNING[(id(self.cache), key)]
            running.set()


_MEMO_LOCK = threading.Lock()
_RUNNING: dict[tuple[int, str], threading.Event] = {}  # (cache, key) being made by some thread


class FileResolver(Protocol):
    """Settles a whole path, or returns None to pass it on. It may also have a method
    ``prefetch(ctx, paths)`` that reads ahead for every conflicted path; the engine runs it
    beside the line merges, before the first ``resolve_file``."""

    name: str

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None: ...


class HunkResolver(Protocol):
    """Settles one conflict hunk, or returns None to pass it on."""

    name: str

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None: ...


@dataclass(frozen=True)
class HunkResult:
    index: int
    fork_start: int
    fork_lines: int
    upstream_lines: int
    outcome: Outcome
    rule: str
    confidence: float
    reason: str


@dataclass(frozen=True)
class FileResult:
    """The engine's verdict on one path; ``content`` is what gets written (markers if unresolved)."""

    path: str
    kind: str
    outcome: Outcome
    rule: str  # the file-level rule, or "hunks" when settled hunk by hunk, or "none"
    reason: str
    content: bytes | None  # None = the path is deleted
    hunks: tuple[HunkResult, ...] = ()
    details: tuple[str, ...] = ()
    write: bool = True  # False when the engine leaves the worktree file as git left it
    agent_edits: int = 0  # places the LLM agent changed outside the conflict hunks (llm/edits.py)

    @property
    def unresolved_hunks(self) -> int:
        return sum(1 for h in self.hunks if h.outcome == "unresolved") or (
            1 if self.outcome == "unresolved" else 0
        )
