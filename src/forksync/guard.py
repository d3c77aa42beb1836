"""What repository code could change behind forksync's back, and a check that it did not.

Checks, regenerate commands and agent fixes run upstream's code. Even sandboxed (where the git
directory and forksync's installation are read-only) the run compares, before every later
stage: every ref (a moved `refs/heads/main` must not go unnoticed), the repository's config and
hooks (a planted `pre-push`), and forksync's own modules and the interpreter's `.pth` files
(code appended there would run inside forksync). Any change forksync did not make fails the
run before anything is pushed.
"""

from __future__ import annotations

import hashlib
import site
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError
from .git import Git

# Files under the git common dir whose change would alter what forksync's own git calls do.
_GIT_FILES = ("config", "config.worktree", "info/attributes", "objects/info/alternates", "commondir")


@dataclass(frozen=True)
class Snapshot:
    refs: Mapping[str, str]
    files: Mapping[str, str]  # what -> sha256 ("" when absent)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return ""


def _tree_digests(root: Path, pattern: str, label: str, *, deep: bool = True) -> dict[str, str]:
    if not root.is_dir():
        return {}
    found = root.rglob(pattern) if deep else root.glob(pattern)
    return {f"{label}/{p.relative_to(root)}": _digest(p) for p in sorted(found) if p.is_file()}


def _install_roots() -> list[Path]:
    """Where `.pth` files are read at every interpreter start-up (top level only)."""
    roots = {Path(p) for p in [*site.getsitepackages(), site.getusersitepackages()] if p}
    return sorted(r for r in roots if r.is_dir())


def take(git: Git, common_dir: Path, extra: Mapping[str, Path] | None = None) -> Snapshot:
    """``extra``: more files to watch (the worktree's `.git` file, which names its git directory)."""
    refs: dict[str, str] = {}
    for line in git.out("for-each-ref", "--format=%(objectname) %(refname)").splitlines():
        sha, _, name = line.partition(" ")
        refs[name] = sha
    files = {f"git:{name}": _digest(common_dir / name) for name in _GIT_FILES}
    files |= {label: _digest(path) for label, path in (extra or {}).items()}
    files |= _tree_digests(common_dir / "hooks", "*", "git:hooks")
    files |= _tree_digests(Path(__file__).parent, "*.py", "forksync")
    for root in _install_roots():
        files |= _tree_digests(root, "*.pth", f"site:{root}", deep=False)
    return Snapshot(refs, files)


def changes(before: Snapshot, after: Snapshot, expected_refs: Mapping[str, str | None]) -> list[str]:
    """What changed that forksync did not do (``expected_refs``: refs forksync moved, None = absent)."""
    out = []
    wanted = {**before.refs, **{k: v for k, v in expected_refs.items() if v is not None}}
    for name in [k for k, v in expected_refs.items() if v is None]:
        wanted.pop(name, None)
    for name in sorted(set(wanted) | set(after.refs)):
        old, new = wanted.get(name), after.refs.get(name)
        if old != new:
            what = "created" if old is None else "deleted" if new is None else f"moved to {new[:10]}"
            out.append(f"{name} {what}")
    for name in sorted(set(before.files) | set(after.files)):
        if before.files.get(name, "") != after.files.get(name, ""):
            out.append(f"{name} changed")
    return out


def assert_unchanged(before: Snapshot, after: Snapshot, expected_refs: Mapping[str, str | None]) -> None:
    found = changes(before, after, expected_refs)
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise GitError(
            f"repository code changed what it must not: {shown}; nothing was pushed",
            hint="the merged tree ran code (checks, regenerate commands, agent fixes) that tampered with the repository or forksync",
        )
