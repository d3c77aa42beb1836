"""`forksync status`: the state of the last run, from its saved report."""

from __future__ import annotations

from pathlib import Path

from ..errors import GitError
from ..git import Git
from ..render.summary import render_summary
from ..state import load_last


def run(repo: Path, as_json: bool) -> int:
    git = Git(repo)
    if git.run("rev-parse", "--git-dir", check=False).returncode != 0:
        raise GitError(f"{repo} is not a git repository")
    report = load_last(git.common_dir())
    if report is None:
        print("no forksync run recorded in this repository")
        return 0
    if as_json:
        print(report.to_json())
        return 0
    print(
        f"last run {report.run_id} started {report.started_at}, finished {report.finished_at or '(not finished)'}"
    )
    stages = ", ".join(f"{s.name}:{s.status}" for s in report.stages)
    print(f"stages: {stages or 'none'}")
    print(render_summary(report))
    return 0
