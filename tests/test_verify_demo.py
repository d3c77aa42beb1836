"""The demo's sync must verify clean (no false alarms), and a lost fork CI trigger (lesson 11) is caught."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from forksync.cli import main
from forksync.config import load_config
from forksync.verify import WORKTREE, verify
from tests.gitutil import git


def test_demo_sync_verifies_clean_and_a_lost_ci_trigger_is_caught(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo"), "--json"])
    data = json.loads(result.stdout)
    fork, merge = Path(data["fork"]), data["report"]["merge_commit"]
    assert merge, result.output
    worktree = tmp_path / "wt"
    git(fork, "worktree", "add", "-q", "--detach", str(worktree), merge)
    config, _ = load_config(worktree)
    parents = git(worktree, "rev-list", "--parents", "-n1", "HEAD").split()[1:]
    assert len(parents) == 2
    assert verify(worktree, config, fork_before=parents[0], upstream=parents[1]) == []

    ci = ".github/workflows/ci.yml"
    (worktree / ci).write_text(git(worktree, "show", f"{parents[1]}:{ci}") + "\n", encoding="utf-8")
    findings = verify(
        worktree, config, fork_before=parents[0], upstream=parents[1], merged=WORKTREE, run_tests=False
    )
    assert [(f.kind, f.path) for f in findings] == [("lost-fork-change", ci)]
    assert findings[0].commit == git(worktree, "log", "-1", "--format=%H", parents[0], "--", ci)
