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
from .resolve.conflicts import conflict_block, has_markers, marker_size, split_lines
from .resolve.model import Hunk, Versions, is_binary

ZERO = "0" * 40


@dataclass
class TreeMerge:
    tree: str
    clean: bool
    entries: dict[str, dict[int, tuple[str, str]]] = field(
        default_factory=dict
    )  # path -> stage -> (mode, sha)
    messages: dict[str, list[str]] = field(default_factory=dict)  # path -> git's CONFLICT messages
    displaced: list[str] = field(default_factory=list)  # git's `path~<commit>` copies, folded back


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
    displaced = fold_distinct_types(entries, messages)
    return TreeMerge(tree, res.returncode == 0, entries, messages, displaced)


def fold_distinct_types(
    entries: dict[str, dict[int, tuple[str, str]]], messages: dict[str, list[str]]
) -> list[str]:
    """A path that is a file on one side and a symlink (or submodule) on the other: git records
    one side's entry at `path~<commit>`, so that each can be written somewhere. Fold it back to
    the path itself, one conflict with both sides, so that no side's copy lands under a new name
    or silently takes the path; returns the displaced names (to be dropped from the tree)."""
    out = []
    for path in [p for p in entries if any("distinct types" in m for m in messages.get(p, ()))]:
        for other in [q for q in entries if q.startswith(path + "~") and q != path]:
            if not all(c in "0123456789abcdef" for c in other[len(path) + 1 :]):
                continue
            for stage, entry in entries.pop(other).items():
                entries[path].setdefault(stage, entry)
            messages.pop(other, None)
            out.append(other)
    return out


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


# -- what a path left for review holds in the merge commit ------------------------------

TEXT_MODES = ("100644", "100755")


@dataclass(frozen=True)
class ReviewEntry:
    """What the merge commit holds at a path left for review, and the sentence that says so.

    ``committed`` is ``markers`` (a new blob, ``content``), ``fork`` (the fork's object ``sha``
    kept as it is) or ``absent`` (the path is not in the tree)."""

    committed: str
    note: str
    mode: str = ""
    sha: str = ""
    content: bytes | None = None


def _did(side: tuple[str, str] | None, data: bytes | None, in_base: bool, renamed: bool) -> str:
    """What one side did to the path, relative to the merge base, in a few words."""
    if side is None:
        return "deleted it (or renamed it away)" if in_base else "has no file at this path"
    mode, sha = side
    verb = "changed it" if in_base else ("renamed a file to this path" if renamed else "added it")
    if mode == "160000":
        return f"{verb}: submodule at commit {sha[:10]}"
    if mode == "120000" and data is not None:
        return f"{verb}: a symlink to '{data.decode('utf-8', 'replace')[:200]}'"
    return f"{verb} (blob {sha[:10]})" if data is not None and is_binary(data) else verb


def review_entry(
    stages: dict[int, tuple[str, str]],
    v: Versions | None,
    marked: bytes | None,
    labels: tuple[str, str, str],
    git_says: str = "",
) -> ReviewEntry:
    """Decide what is committed at a conflicted path nothing resolved, so that no side's copy
    is silently chosen and the reviewer is told the truth.

    - Every present side is a regular text file: conflict markers, always. ``marked`` is the
      line merge with markers where both sides have the file; where one side deleted it (or
      renamed it away: modify/delete, rename/delete, rename/rename), the whole file is one
      conflict block whose deleting side is empty and labelled so. Markers keep the path from
      passing the marker check, so neither side's copy can be merged unread — unlike the old
      behaviour, which quietly brought back a workflow the fork had deleted.
    - Binary files, symlinks and submodules cannot hold markers: the fork's state is committed
      (its object, or no file where the fork deleted it), so merging the PR changes nothing
      there in production, and the note names exactly what upstream did (its object id, link
      target or submodule commit) for the reviewer to take it by hand.
    - A side whose blob is missing (a partial clone): likewise the fork's state, said so.
    """
    fork, up = stages.get(2), stages.get(3)
    fork_data, up_data = (v.fork, v.upstream) if v else (None, None)
    in_base, renamed = 1 in stages, "rename" in git_says
    sides = (
        f"the fork {_did(fork, fork_data, in_base, renamed)}; upstream {_did(up, up_data, in_base, renamed)}"
    )
    sides += f" (git: {git_says})" if git_says else ""
    present = [(s[0], data) for s, data in ((fork, fork_data), (up, up_data)) if s]
    textual = bool(present) and all(
        mode in TEXT_MODES and data is not None and not is_binary(data) for mode, data in present
    )
    if v is not None and textual:
        mode = (fork or up or ("100644", ""))[0]
        if marked is not None and has_markers(marked):
            return ReviewEntry("markers", f"conflict markers; {sides}", mode, content=marked)
        names = list(labels)
        absent = "the fork" if fork is None else "upstream" if up is None else ""
        if absent:
            names[0 if fork is None else 2] += ", no file on this side"
        hunk = Hunk(1, _lines(v.base), _lines(v.fork), _lines(v.upstream), 1)
        size = marker_size(v.base or b"", v.fork or b"", v.upstream or b"")
        block = "".join(conflict_block(hunk, size, (names[0], names[1], names[2])))
        why = f" ({absent} has no file here: deleting the file takes {absent}'s side)" if absent else ""
        note = f"conflict markers around the whole file{why}; {sides}"
        return ReviewEntry("markers", note, mode, content=block.encode("utf-8", "surrogateescape"))
    missing = "a version of this file is missing from the repository; " if v is None else ""
    if fork is not None:
        return ReviewEntry("fork", f"{missing}the fork's copy, unchanged; {sides}", fork[0], fork[1])
    return ReviewEntry("absent", f"{missing}no file (the fork's state); {sides}")


def _lines(data: bytes | None) -> tuple[str, ...]:
    return tuple(split_lines(data.decode("utf-8", "surrogateescape"))) if data else ()
