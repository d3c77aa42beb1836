"""One snapshot of the repository, a commit or the working tree, read through git.

Verification compares up to four snapshots (base, fork, upstream, merged); this keeps
every read cached and batched, so that only the files that matter are ever read, and a blob
that several snapshots share (most of them) is read once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..git import Git, cat_blobs

WORKTREE = "WORKTREE"


def git_lines(text: str) -> list[str]:
    """Lines as git counts them: split at LF only (``str.splitlines`` also breaks at U+0085,
    U+2028, form feed..., which minified bundles contain), without the empty tail after a final LF."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


class Tree:
    """Files of one revision (``WORKTREE`` = the checked-out files, uncommitted edits included)."""

    def __init__(self, git: Git, rev: str, blobs: dict[str, bytes] | None = None) -> None:
        self.git = git
        self.rev = rev
        self._blobs = {} if blobs is None else blobs  # by object id: shared by the trees of one verification
        self._cache: dict[str, bytes | None] = {}
        self._files: list[str] | None = None
        self._entries: dict[str, tuple[str, str]] | None = None
        self._ids: dict[str, str] | None = None

    @property
    def is_worktree(self) -> bool:
        return self.rev == WORKTREE

    def files(self) -> list[str]:
        if self._files is None:
            if self.is_worktree:
                out = self.git.run("ls-files", "-z", "-c", "-o", "--exclude-standard").stdout
                names = [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
                self._files = sorted(dict.fromkeys(names))
            else:
                self._files = sorted(self._listing())
        return self._files

    def prefetch(self, paths: Iterable[str]) -> None:
        wanted = [p for p in dict.fromkeys(paths) if p not in self._cache]
        if not wanted:
            return
        if self.is_worktree:
            for path in wanted:
                self.read(path)
            return
        # By blob id, from one listing of the tree: `rev:path` costs a walk of the path's tree per
        # file (quadratic in a wide folder: 5,000 files of one folder took 1 s), and ids let the
        # snapshots share what they have in common.
        ids = self._blob_ids()
        self._blobs.update(
            cat_blobs(self.git, [ids[p] for p in wanted if p in ids and ids[p] not in self._blobs])
        )
        for path in wanted:
            oid = ids.get(path)
            self._cache[path] = self._blobs.get(oid) if oid else None

    def _listing(self) -> dict[str, tuple[str, str]]:
        """Path -> (type, object id) of every entry of the revision: one `git ls-tree -r`."""
        if self._entries is None:
            out = self.git.run("ls-tree", "-r", "-z", "--full-tree", self.rev).stdout
            self._entries = {}
            for rec in out.split(b"\0"):
                meta, _, name = rec.partition(b"\t")
                fields = meta.decode().split()
                if len(fields) == 3:
                    self._entries[name.decode("utf-8", "surrogateescape")] = (fields[1], fields[2])
        return self._entries

    def _blob_ids(self) -> dict[str, str]:
        if self._ids is None:
            self._ids = {path: oid for path, (kind, oid) in self._listing().items() if kind == "blob"}
        return self._ids

    def oid(self, path: str) -> str | None:
        """The blob id of ``path`` (None in the working tree, or when it is not a file here)."""
        return None if self.is_worktree else self._blob_ids().get(path)

    def read(self, path: str) -> bytes | None:
        if path not in self._cache:
            if self.is_worktree:
                target = self.git.cwd / path
                try:
                    self._cache[path] = target.read_bytes() if target.is_file() else None
                except OSError:
                    self._cache[path] = None
            else:
                self.prefetch([path])
        return self._cache[path]

    def text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def grep_files(self, words: Sequence[str], pathspec: str = "*.py") -> list[str]:
        """Files containing any of ``words`` as a whole word (git grep: no parsing of the tree)."""
        found: set[str] = set()
        words = sorted({w for w in words if w})
        for i in range(0, len(words), 200):
            args = ["grep", "-l", "-z", "-w", "-F", "-I"]
            for word in words[i : i + 200]:
                args += ["-e", word]
            if self.is_worktree:
                args += ["--untracked", "--", pathspec]
            else:
                args += [self.rev, "--", pathspec]
            res = self.git.run(*args, check=False)
            for line in res.out.split("\0"):
                if not self.is_worktree and line.startswith(self.rev + ":"):
                    line = line[len(self.rev) + 1 :]
                if line:
                    found.add(line)
        return sorted(found)


@dataclass(frozen=True)
class DiffHunk:
    """One hunk of a zero-context diff: old lines replaced by new lines."""

    path: str
    old_start: int
    old_lines: tuple[str, ...]
    new_start: int
    new_lines: tuple[str, ...]


_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def changed_paths(git: Git, a: str, b: str, pathspec: Sequence[str] = ()) -> list[str]:
    """Paths that differ between two revisions (``b`` may be WORKTREE)."""
    args = ["diff", "--name-only", "-z", "--no-renames", a]
    if b != WORKTREE:
        args.append(b)
    out = git.run(*args, "--", *pathspec).stdout
    return sorted(p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p)


def diff_hunks(git: Git, a: str, b: str, pathspec: Sequence[str] = ()) -> list[DiffHunk]:
    """Zero-context hunks from ``a`` to ``b``, text files only."""
    args = ["-c", "core.quotePath=false", "diff", "-U0", "--no-renames", "--no-color", "--no-ext-diff", a]
    if b != WORKTREE:
        args.append(b)
    return parse_diff(git.run(*args, "--", *pathspec).stdout.decode("utf-8", "surrogateescape"))


def parse_diff(text: str) -> list[DiffHunk]:
    """Hunks of a unified diff as git prints it (``-U0`` keeps them exact)."""
    hunks: list[DiffHunk] = []
    path = ""
    cur: tuple[int, int] | None = None
    old: list[str] = []
    new: list[str] = []

    def flush() -> None:
        if cur is not None and path:
            hunks.append(DiffHunk(path, cur[0], tuple(old), cur[1], tuple(new)))

    for line in text.split("\n"):
        if line.startswith("diff --git "):
            flush()
            cur, path = None, ""
        elif line.startswith("+++ ") and cur is None:
            name = line[4:]
            if name.startswith("b/"):
                path = name[2:]
        elif line.startswith("--- ") and cur is None:
            name = line[4:]
            if name.startswith("a/"):
                path = name[2:]
        elif line.startswith("@@"):
            flush()
            m = _HEADER.match(line)
            cur = (int(m.group(1)), int(m.group(3))) if m else None
            old, new = [], []
        elif cur is not None and line.startswith("-"):
            old.append(line[1:])
        elif cur is not None and line.startswith("+"):
            new.append(line[1:])
    flush()
    return hunks
