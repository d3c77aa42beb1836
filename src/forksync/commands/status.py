"""`forksync status`: the state of the last run, from its saved report.

Its output is often piped (`forksync status | head`): a reader that stops early is not an
error, so a closed pipe ends the command quietly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..errors import GitError
from ..git import Git
from ..render.summary import render_summary
from ..state import load_last

NO_RUN = "no forksync run recorded in this repository"


def emit(text: str) -> None:
    """Write to stdout; when the reader has gone, point stdout at /dev/null so that the
    interpreter's final flush cannot fail either."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run(repo: Path, as_json: bool) -> int:
    git = Git(repo)
    if git.run("rev-parse", "--git-dir", check=False).returncode != 0:
        raise GitError(f"{repo} is not a git repository")
    report = load_last(git.common_dir())
    if report is None:
        emit(json.dumps({"status": "none", "message": NO_RUN}) if as_json else NO_RUN)
        return 0
    if as_json:
        emit(report.to_json())
        return 0
    stages = ", ".join(f"{s.name}:{s.status}" for s in report.stages)
    emit(
        f"last run {report.run_id} started {report.started_at}, "
        f"finished {report.finished_at or '(not finished)'}\n"
        f"stages: {stages or 'none'}\n" + render_summary(report)
    )
    return 0
