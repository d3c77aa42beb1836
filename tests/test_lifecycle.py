"""The lifecycle decision row by row, and the small promises around a nightly run: a precheck
before anything is pushed, commands that read history only and ignore a dirty checkout, a
status that can be piped, and git errors that name their cause."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from forksync.commands.sync import execute
from forksync.config import Config, parse_config
from forksync.errors import ExitCode
from forksync.forges.base import PullRequestSpec
from forksync.forges.http import RetryPolicy
from forksync.git import cause
from forksync.lifecycle import Action, BranchFacts, decide, is_forksync_commit, open_conflicts
from tests.gitutil import git


@pytest.mark.parametrize(
    ("facts", "pr", "action", "lease"),
    [
        (BranchFacts(), "none", Action.CREATE, False),
        (BranchFacts(exists=True), "none", Action.CREATE, True),  # an interrupted run's, or a moved tag
        (BranchFacts(exists=True, has_release=True), "open", Action.CONTINUE, False),
        (BranchFacts(exists=True, has_release=True, main_moved=True), "open", Action.REBUILD, True),
        (BranchFacts(exists=True, has_release=True, people_commits=1), "open", Action.CONTINUE, False),
        (
            BranchFacts(exists=True, has_release=True, people_commits=2, main_moved=True),
            "open",
            Action.MERGE_MAIN,
            False,
        ),
        (BranchFacts(exists=True, people_commits=1, main_moved=True), "open", Action.MERGE_RELEASE, False),
        (BranchFacts(exists=True, has_release=True, people_commits=1), "closed", Action.STOP, False),
        (BranchFacts(carry_from="upstream-sync/v1.1.0"), "none", Action.CARRY, False),
        (BranchFacts(), "merged", Action.STOP, False),
        (BranchFacts(), "closed", Action.STOP, False),  # its branch deleted: still not recreated
    ],
)
def test_the_lifecycle_table(facts: BranchFacts, pr: str, action: Action, lease: bool) -> None:
    plan = decide(facts, pr, "pull request #7")  # type: ignore[arg-type]
    assert plan.action is action and plan.lease is lease and plan.why
    if action is Action.STOP:
        assert "#7" in plan.why and "not" in plan.why


def test_people_commits_are_never_rebuilt() -> None:
    """Whatever else is true, a branch with a person's commit is never replaced."""
    for has_release in (True, False):
        for main_moved in (True, False):
            plan = decide(
                BranchFacts(exists=True, has_release=has_release, people_commits=1, main_moved=main_moved),
                "open",
            )
            assert plan.action not in (Action.CREATE, Action.REBUILD) and not plan.lease


def test_own_commits_and_open_conflicts() -> None:
    bot = "forksync-bot@users.noreply.github.com"
    assert is_forksync_commit("pat@acme.example", "20261205T000000Z-abc123", bot)
    assert is_forksync_commit(bot, "", bot)
    assert not is_forksync_commit("pat@acme.example", "  ", bot)
    assert open_conflicts(["a.py", "b.py", "c.py"], {"a.py": True, "b.py": False}) == ["a.py"]


def test_git_errors_name_their_cause_not_the_advice_after_it() -> None:
    err = (
        "fatal: '/srv/missing.git' does not appear to be a git repository\n"
        "fatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists."
    )
    assert cause(err) == "fatal: '/srv/missing.git' does not appear to be a git repository"
    assert cause("hint: something\nerror: failed to push some refs") == "error: failed to push some refs"
    assert cause("just a line\n") == "just a line" and cause("", "exit 1") == "exit 1"


def _cli(forksync_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([forksync_bin, *args], capture_output=True, text=True, check=False, timeout=120)


def test_a_missing_remote_says_why(demo: tuple[Path, Path, Path], forksync_bin: str, tmp_path: Path) -> None:
    _, _, fork = demo
    git(fork, "remote", "set-url", "origin", str(tmp_path / "missing.git"))
    res = _cli(forksync_bin, "sync", "--repo", str(fork))
    assert res.returncode == ExitCode.GIT, res.stderr
    assert "does not appear to be a git repository" in res.stderr and "repository exists" not in res.stderr


def test_check_and_dry_run_ignore_a_dirty_checkout(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, remote, fork = demo
    (fork / "README.md").write_text("local edits\n")
    assert _cli(forksync_bin, "check", "--repo", str(fork)).returncode == ExitCode.SYNC_DUE
    dry = execute(fork, None, dry_run=True, quiet=True)
    assert dry.error is None and dry.status == "dry-run"
    real = execute(fork, None, quiet=True)
    assert real.exit_code == ExitCode.GIT and "uncommitted changes" in str(real.error)
    assert (fork / "README.md").read_text() == "local edits\n"  # never touched
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""


def test_an_unwritable_report_path_fails_before_anything_is_pushed(
    demo: tuple[Path, Path, Path], forksync_bin: str, tmp_path: Path
) -> None:
    _, remote, fork = demo
    res = _cli(forksync_bin, "sync", "--repo", str(fork), "--report", str(tmp_path / "no" / "r.json"))
    assert res.returncode == ExitCode.CONFIG and "does not exist" in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""


def test_status_without_a_run_and_into_a_closed_pipe(
    demo: tuple[Path, Path, Path], forksync_bin: str
) -> None:
    _, _, fork = demo
    empty = _cli(forksync_bin, "status", "--repo", str(fork), "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout)["status"] == "none"
    assert execute(fork, None, no_push=True, quiet=True).exit_code == 0
    # `forksync status | head -c 10`: the reader is gone before forksync writes.
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run(
        [forksync_bin, "status", "--repo", str(fork)], stdout=write, stderr=subprocess.PIPE, check=False
    )
    os.close(write)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr


def _spec(head: str, **kw: Any) -> PullRequestSpec:
    base: dict[str, Any] = {"title": "Sync", "body": "merged\n", "head": head, "base": "main"}
    return PullRequestSpec(**{"labels": ("automated-sync", "needs-review"), **base, **kw})


def _forge_config(kind: str, repo: str, api_url: str) -> Config:
    return parse_config({"forge": {"kind": kind, "repo": repo, "api-url": api_url}}, "test")


def test_github_pull_request_state_and_draft_follow_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forksync.forges.github import GitHubForge
    from tests.standins.github_api import GitHubStandIn

    head, token = "upstream-sync/v1.2.0", "ghp_" + "L1fecycle" * 4
    monkeypatch.setenv("GITHUB_TOKEN", token)
    with GitHubStandIn({token: "write"}) as gh:
        gh.add_repo("acme/fork").refs[head] = "c" * 40
        config = _forge_config("github", "acme/fork", gh.url)
        forge = GitHubForge.from_config(config, tmp_path, retry=RetryPolicy(sleep=lambda s: None))
        assert forge.pull_request_for(head) is None
        forge.publish(_spec(head, draft=True))
        [pull] = gh.repos["acme/fork"].pulls.values()
        found = forge.pull_request_for(head)
        assert found is not None and found.state == "open" and found.draft
        # Conflicts resolved: ready for review (GraphQL: REST cannot change the draft state).
        result = forge.publish(_spec(head, labels=("automated-sync", "ready")))
        assert result.action == "updated" and not pull["draft"] and not result.pull_request.draft
        [call] = gh.calls("POST", "^/graphql$")
        assert "markPullRequestReadyForReview" in call.body["query"]
        assert call.body["variables"]["id"] == pull["node_id"]
        assert forge.publish(_spec(head, draft=True)).pull_request.draft  # open conflicts again
        # A refused mutation is a warning, never a lost PR.
        gh.fail("POST", "^/graphql$", 502, {"message": "Server Error"}, times=10)
        warned = forge.publish(_spec(head))
        assert warned.pull_request.draft and any("could not mark the PR ready" in w for w in warned.warnings)
        pull["state"], pull["merged_at"] = "closed", "2026-01-02T03:04:05Z"
        merged = forge.pull_request_for(head)
        assert merged is not None and merged.state == "merged"


def test_gitlab_merge_request_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forksync.forges.gitlab import GitLabForge
    from tests.standins.gitlab_api import GitLabStandIn

    head, token = "upstream-sync/v3.0.0", "glpat-" + "L1fecycle" * 3
    monkeypatch.setenv("GITLAB_TOKEN", token)
    for name in ("CI_JOB_TOKEN", "CI_API_V4_URL", "CI_PROJECT_PATH"):
        monkeypatch.delenv(name, raising=False)
    with GitLabStandIn({token}, set()) as gl:
        gl.add_project("acme/platform/fork").branches[head] = "d" * 40
        config = _forge_config("gitlab", "acme/platform/fork", f"{gl.url}/api/v4")
        forge = GitLabForge.from_config(config, tmp_path, retry=RetryPolicy(sleep=lambda s: None))
        assert forge.pull_request_for(head) is None
        forge.publish(_spec(head, draft=True))
        found = forge.pull_request_for(head)
        assert found is not None and found.state == "open" and found.draft
        [mr] = gl.projects["acme/platform/fork"].mrs.values()
        mr["state"] = "closed"  # a person closed it
        closed = forge.pull_request_for(head)
        assert closed is not None and closed.state == "closed"
