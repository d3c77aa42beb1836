"""Merges without a checkout: `git merge-tree --write-tree`, a private index, `commit-tree`.

A sync of a large repository must not pay for checking out tens of thousands of files just
to merge them. git's own merge machinery (merge-ort, with rename detection) computes the
merged tree and the conflicts from objects alone; resolutions are written as blobs into a
temporary index, and the merge commit is made with explicit parents. A worktree is checked
out only when something must run on the files (checks, the agent's fixes, regeneration).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GitError
from .git import Git

ZERO = "0" * 40


@dataclass
class TreeMerge:
    tree: str
    clean: bool
    entries: dict[str, dict[int, tuple[str, str]]] = field(
        default_factory=dict
    )  # path -> stage -> (mode, sha)
    messages: dict[str, list[str]] = field(default_factory=dict)  # path -> git's CONFLICT messages


def merge_tree(git: Git, fork: str, upstream: str) -> TreeMerge:
    res = git.run("merge-tree", "--write-tree", "-z", "--messages", fork, upstream, check=False, timeout=3600)
    if res.returncode not in (0, 1):
        raise GitError(f"git merge-tree failed: {res.err.splitlines()[-1] if res.err else res.returncode}")
    parts = res.stdout.split(b"\0")
    tree = parts[0].decode()
    entries: dict[str, dict[int, tuple[str, str]]] = {}
    i = 1
    while i < len(parts) and parts[i]:
        meta, _, path_b = parts[i].partition(b"\t")
        mode, sha, stage = meta.decode().split()
        entries.setdefault(path_b.decode("utf-8", "surrogateescape"), {})[int(stage)] = (mode, sha)
        i += 1
    messages: dict[str, list[str]] = {}
    i += 1
    while i < len(parts) and parts[i]:
        try:
            count = int(parts[i])
        except ValueError:
            break
        paths = [p.decode("utf-8", "surrogateescape") for p in parts[i + 1 : i + 1 + count]]
        kind = parts[i + 1 + count].decode("utf-8", "replace") if i + 1 + count < len(parts) else ""
        text = parts[i + 2 + count].decode("utf-8", "replace").strip() if i + 2 + count < len(parts) else ""
        if kind.startswith("CONFLICT") or text.startswith("CONFLICT"):
            for p in paths:
                messages.setdefault(p, []).append(text)
        i += 3 + count
    return TreeMerge(tree, res.returncode == 0, entries, messages)


class TempIndex:
    """A private index file: the user's index is never touched."""

    def __init__(self, git: Git, tree: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="index-", dir=folder)
        os.close(fd)
        os.unlink(name)
        self.path = Path(name)
        self.git = git
        self.env = {"GIT_INDEX_FILE": str(self.path)}
        self._run("read-tree", tree)

    def _run(self, *args: str, input: bytes | None = None) -> str:
        res = self.git.run(*args, input=input, env=self.env, check=False)
        if res.returncode != 0:
            raise GitError(f"git {args[0]} failed: {res.err.splitlines()[-1] if res.err else res.returncode}")
        return res.out

    def hash_blobs(self, contents: Iterable[bytes]) -> list[str]:
        """Write blobs with one `git hash-object` process, whatever their number."""
        items = list(contents)
        if not items:
            return []
        with tempfile.TemporaryDirectory(prefix="forksync-blobs-") as tmp:
            paths = []
            for n, data in enumerate(items):
                p = Path(tmp) / str(n)
                p.write_bytes(data)
                paths.append(str(p))
            out = self._run(
                "hash-object", "-w", "--no-filters", "--stdin-paths", input=("\n".join(paths) + "\n").encode()
            )
        return out.split()

    def set_entries(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """(mode, sha, path) triples; mode "0" removes the path."""
        lines = []
        for mode, sha, path in entries:
            if "\n" in path:
                raise GitError(f"refusing a path with a newline: {path!r}")
            lines.append(
                f"{mode} {sha if mode != '0' else ZERO}\t{path}" if mode != "0" else f"0 {ZERO}\t{path}"
            )
        if lines:
            self._run("update-index", "--index-info", input=("\n".join(lines) + "\n").encode())

    def blob(self, path: str) -> tuple[str, bytes] | None:
        out = self._run("ls-files", "-s", "--", path).strip()
        if not out:
            return None
        mode, sha, _ = out.split(maxsplit=2)
        data = self.git.cat_blob(sha)
        return (mode, data) if data is not None else None

    def write_tree(self) -> str:
        return self._run("write-tree").strip()

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def commit_tree(git: Git, tree: str, parents: list[str], message: str, env: dict[str, str]) -> str:
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    res = git.run(*args, "-F", "-", input=message.encode(), env=env, check=False)
    if res.returncode != 0:
        raise GitError(f"git commit-tree failed: {res.err.splitlines()[-1] if res.err else res.returncode}")
    return res.out.strip()
