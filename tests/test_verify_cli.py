"""`forksync verify` on a real merge commit: exit codes, text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from forksync.cli import main
from forksync.errors import ExitCode
from tests.gitutil import Repo
from tests.test_verify_scenarios import CLEAN, MERGED_API, UPSTREAM_SETTINGS, build, merge


def test_clean_merge_exits_zero(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(sync, CLEAN)
    result = CliRunner().invoke(main, ["verify", "--repo", str(sync.repo.path)])
    assert result.exit_code == 0, result.output
    assert "no findings" in result.output


def test_findings_exit_verify_failed_with_json(tmp_path: Path) -> None:
    sync = build(tmp_path, client_call='send("hi", timeout=5)')
    merge(sync, {"pkg/api.py": MERGED_API, "pkg/settings.py": UPSTREAM_SETTINGS})
    result = CliRunner().invoke(main, ["verify", "--repo", str(sync.repo.path), "--json"])
    assert result.exit_code == ExitCode.VERIFY_FAILED
    data = json.loads(result.stdout)
    assert data["count"] == 3
    assert sorted(f["kind"] for f in data["findings"]) == ["broken-call", "broken-call", "lost-fork-change"]
    lost = next(f for f in data["findings"] if f["kind"] == "lost-fork-change")
    assert lost["commit"] == sync.commits["limit"] and lost["path"] == "pkg/settings.py"
    text = CliRunner().invoke(main, ["verify", "--repo", str(sync.repo.path)])
    assert text.exit_code == ExitCode.VERIFY_FAILED
    assert "pkg/client.py:6" in text.output and "lost-fork-change" in text.output


def test_against_another_fork_commit(tmp_path: Path) -> None:
    """--against names the pre-merge fork commit; an unknown one is a one-line git error."""
    sync = build(tmp_path)
    merge(sync, CLEAN)
    result = CliRunner().invoke(
        main, ["verify", "--repo", str(sync.repo.path), "--against", sync.commits["shout"], "--json"]
    )
    assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(main, ["verify", "--repo", str(sync.repo.path), "--against", "no-such-ref"])
    assert bad.exit_code == ExitCode.GIT and "not a commit" in bad.output


def test_not_a_merge_is_a_one_line_error(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"a.py": "x = 1\n"}, "one")
    result = CliRunner().invoke(main, ["verify", "--repo", str(repo.path)])
    assert result.exit_code == ExitCode.GIT
    assert "not a merge commit" in result.output and "Traceback" not in result.output
