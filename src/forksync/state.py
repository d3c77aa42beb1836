"""Run state under the git directory: a lock against concurrent runs, and the last report.

Everything lives in `<git common dir>/forksync/`, never in the work tree, so a sync leaves
no trace in the user's checkout. The report is saved after every stage: a killed run
leaves a readable account of how far it got (`forksync status`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import GitError, LockedError
from .report import Report


def state_dir(common_dir: Path) -> Path:
    path = common_dir / "forksync"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitError(
            f"cannot write to {path}: {exc.strerror}", hint="is the repository writable?"
        ) from None
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def locked(common_dir: Path, notes: list[str] | None = None) -> Iterator[Path]:
    """Hold `forksync/lock` for the duration; take over a stale lock of a dead process."""
    path = state_dir(common_dir) / "lock"
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                held = json.loads(path.read_text() or "{}")
            except (OSError, ValueError):
                held = {}
            same_host = held.get("host") == me["host"]
            pid = int(held.get("pid", 0) or 0)
            if (same_host and pid and not _alive(pid)) or not held:
                if notes is not None:
                    notes.append(f"took over a stale lock left by process {pid or '?'}")
                path.unlink(missing_ok=True)
                continue
            raise LockedError(
                f"another forksync run (pid {pid} on {held.get('host')}) holds {path}",
                hint="wait for it, or delete the lock file if that process is gone",
            ) from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def save_report(common_dir: Path, report: Report) -> Path:
    runs = state_dir(common_dir) / "runs"
    runs.mkdir(exist_ok=True)
    path = runs / f"{report.run_id}.json"
    report.report_path = str(path)
    data = report.to_json()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)
    last = state_dir(common_dir) / "last.json"
    tmp = last.with_suffix(".tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, last)
    return path


def load_last(common_dir: Path) -> Report | None:
    path = common_dir / "forksync" / "last.json"
    if not path.is_file():
        return None
    return Report.from_dict(json.loads(path.read_text(encoding="utf-8")))


def find_report_for_branch(common_dir: Path, branch: str) -> Report | None:
    """The newest saved report of a run that committed to ``branch`` (for re-runs)."""
    runs = common_dir / "forksync" / "runs"
    if not runs.is_dir():
        return None
    for path in sorted(runs.glob("*.json"), reverse=True):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("sync_branch") == branch and data.get("merge_commit"):
            return Report.from_dict(data)
    return None


# -- worktrees live outside the git directory (a private temp folder); remembered here so that
# a killed run's worktree is removed by the next run.
def _worktree_list(common_dir: Path) -> Path:
    return state_dir(common_dir) / "worktrees.txt"


def remembered_worktrees(common_dir: Path) -> list[Path]:
    path = common_dir / "forksync" / "worktrees.txt"
    if not path.is_file():
        return []
    return [Path(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def remember_worktree(common_dir: Path, worktree: Path) -> None:
    known = remembered_worktrees(common_dir)
    if worktree not in known:
        _write_lines(_worktree_list(common_dir), [*known, worktree])


def forget_worktree(common_dir: Path, worktree: Path) -> None:
    known = remembered_worktrees(common_dir)
    if worktree in known:
        _write_lines(_worktree_list(common_dir), [p for p in known if p != worktree])


def _write_lines(path: Path, lines: list[Path]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{p}\n" for p in lines), encoding="utf-8")
    os.replace(tmp, path)
