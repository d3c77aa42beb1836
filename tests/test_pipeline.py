"""The sync pipeline end to end, on real repositories (the demo's and hand-built ones)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from forksync.commands.sync import execute
from forksync.errors import ExitCode
from tests.conftest import GitDaemon, copy_bare
from tests.gitutil import Repo, git


def cli(
    forksync_bin: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [forksync_bin, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=120,
    )


def test_demo_sync_makes_a_two_parent_merge_of_the_stable_release(demo: tuple[Path, Path, Path]) -> None:
    upstream, remote, fork = demo
    main_before = git(fork, "rev-parse", "main")
    report = execute(fork, None, quiet=True)

    assert (
        report.release is not None and report.release.tag == "v1.1.0"
    )  # not -rc, not -nightly, not v1.2.0-rc1
    assert report.fork_version == "1.0.0"
    assert report.ignored_tags == ["v1.2.0-rc1", "v1.1.0-nightly", "v1.1.0-rc1"]
    assert "`v1.2.0-rc1`" in report.pr_body
    assert report.sync_branch == "upstream-sync/v1.1.0"
    parents = git(fork, "rev-list", "--parents", "-n", "1", report.merge_commit).split()[1:]
    assert parents == [main_before, git(upstream, "rev-parse", "v1.1.0^{commit}")]
    assert git(fork, "rev-parse", "main") == main_before  # production branch untouched
    assert git(fork, "status", "--porcelain") == ""  # user's checkout untouched
    assert git(fork, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    # Pushed, and no worktree left behind.
    assert git(remote, "rev-parse", "refs/heads/upstream-sync/v1.1.0") == git(
        fork, "rev-parse", "upstream-sync/v1.1.0"
    )
    assert "forksync-wt-" not in git(fork, "worktree", "list")
    # Fork-only files and the fork's own commits survived.
    tree = git(fork, "ls-tree", "-r", "--name-only", report.merge_commit).splitlines()
    assert ".github/workflows/fork-deploy.yml" in tree and "certs/corp-ca.pem" in tree
    ci = git(fork, "show", f"{report.merge_commit}:.github/workflows/ci.yml")
    assert "branches: [main, acme-main]" in ci and "setup-python" in ci
    # Every conflict is in the report with a rule and a reason.
    assert {c.path for c in report.conflicts} == {"Dockerfile", "pyproject.toml", "tinyproxy/router.py"}
    assert all(c.rule and c.reason for c in report.conflicts)
    # The PR was written to the local forge's outbox, with the labels.
    assert report.pull_request is not None and report.pull_request.action == "created"
    outbox = json.loads((fork.parent / "outbox" / "upstream-sync-v1.1.0.json").read_text())
    assert outbox["head"] == "upstream-sync/v1.1.0" and outbox["base"] == "main"
    assert "automated-sync" in outbox["labels"] and report.recommendation in outbox["labels"]
    assert "Create a merge commit" in report.pr_body and "v1.1.0" in report.pr_title
    # The saved report is the same data.
    saved = json.loads(Path(report.report_path).read_text())
    assert saved["merge_commit"] == report.merge_commit and saved["totals"]["conflicted_files"] == 3


def test_review_mode_commits_left_conflicts_as_a_draft(demo: tuple[Path, Path, Path]) -> None:
    _, _, fork = demo
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config + '[resolve]\ndisable = ["history", "toml", "python-syntax", '
        '"fork-markers", "finer", "trivial", "learned", "json", "yaml", "lineset"]\n'
    )
    git(fork, "commit", "-qam", "disable the engine")
    report = execute(fork, None, quiet=True)
    assert report.status == "conflicts-left" and report.exit_code == ExitCode.CONFLICTS_LEFT
    assert report.recommendation == "needs-review" and "needs-review" in report.labels
    assert report.pull_request is not None and report.pull_request.draft
    assert report.pr_body.startswith("## ⚠️")  # unresolved files listed first
    left = {c.path for c in report.unresolved}
    committed = git(fork, "show", f"{report.merge_commit}:{sorted(left)[0]}")
    assert "<<<<<<< fork (main)" in committed and ">>>>>>> upstream (v1.1.0)" in committed
    # Files without conflicts carry no markers.
    assert "<<<<<<<" not in git(fork, "show", f"{report.merge_commit}:CHANGELOG.md")
    assert len(git(fork, "rev-list", "--parents", "-n", "1", report.merge_commit).split()) == 3


def test_stop_mode_commits_nothing(demo: tuple[Path, Path, Path]) -> None:
    _, remote, fork = demo
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config + '[resolve]\non-conflict = "stop"\ndisable = ["history", "toml", '
        '"python-syntax", "fork-markers", "finer", "trivial", "learned"]\n'
    )
    git(fork, "commit", "-qam", "strict")
    report = execute(fork, None, quiet=True)
    assert report.status == "conflicts-left" and report.exit_code == ExitCode.CONFLICTS_LEFT
    assert report.merge_commit == "" and report.pull_request is None
    assert git(fork, "branch", "--list", "upstream-sync/*") == ""
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""
    assert report.unresolved and "left" in report.pr_body


def test_second_run_updates_the_same_pr_and_keeps_others_commits(
    demo: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, remote, fork = demo
    first = execute(fork, None, quiet=True)
    assert first.pull_request is not None
    # A reviewer pushes a fix to the sync branch.
    other = tmp_path / "reviewer"
    git(tmp_path, "clone", "-q", "-b", "upstream-sync/v1.1.0", str(remote), str(other))
    (other / "REVIEW.md").write_text("fixed by a human\n")
    git(other, "add", "REVIEW.md")
    git(other, "commit", "-qm", "review fix")
    git(other, "push", "-q", "origin", "upstream-sync/v1.1.0")
    reviewer_commit = git(other, "rev-parse", "HEAD")

    second = execute(fork, None, release="v1.1.0", quiet=True)
    assert second.error is None, second.error
    assert second.pull_request is not None and second.pull_request.action in ("updated", "unchanged")
    outbox = list((fork.parent / "outbox").glob("*.json"))
    assert len(outbox) == 1  # never a duplicate PR
    remote_head = git(remote, "rev-parse", "refs/heads/upstream-sync/v1.1.0")
    assert git(remote, "merge-base", "--is-ancestor", reviewer_commit, remote_head) == ""  # kept


def test_up_to_date_after_the_sync_is_merged(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, _, fork = demo
    due = cli(forksync_bin, "check", "--repo", str(fork), "--json")
    assert due.returncode == ExitCode.SYNC_DUE, due.stderr
    data = json.loads(due.stdout)
    assert data["sync_needed"] and data["newest_release"] == "v1.1.0" and data["upstream_commits"] == 3
    report = execute(fork, None, quiet=True)
    git(fork, "merge", "-q", "--no-ff", "-m", "merge sync", report.sync_branch)
    ok = cli(forksync_bin, "check", "--repo", str(fork))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "up to date" in ok.stdout
    again = execute(fork, None, quiet=True)
    assert again.status == "up-to-date" and again.exit_code == 0 and again.merge_commit == ""


def test_upstream_over_git_daemon(demo: tuple[Path, Path, Path], git_daemon: GitDaemon) -> None:
    upstream, _, fork = demo
    copy_bare(upstream, git_daemon.root / "upstream.git")
    config = (
        (fork / ".forksync.toml")
        .read_text()
        .replace('url = "../upstream"', f'url = "{git_daemon.url("upstream.git")}"')
    )
    (fork / ".forksync.toml").write_text(config)
    git(fork, "commit", "-qam", "upstream over the network")
    report = execute(fork, None, quiet=True)
    assert report.error is None, report.error
    assert report.release is not None and report.release.tag == "v1.1.0"
    assert git(fork, "rev-parse", "refs/forksync/upstream/v1.1.0^{commit}") == git(
        upstream, "rev-parse", "v1.1.0^{commit}"
    )


def test_dry_run_keeps_nothing(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, remote, fork = demo
    res = cli(forksync_bin, "sync", "--repo", str(fork), "--dry-run")
    assert "pull request that would be opened" in res.stdout, res.stderr
    assert git(fork, "branch", "--list", "upstream-sync/*") == ""
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""
    assert not (fork.parent / "outbox").exists()


def test_no_push_keeps_the_branch_local(demo: tuple[Path, Path, Path]) -> None:
    _, remote, fork = demo
    report = execute(fork, None, no_push=True, quiet=True)
    assert git(fork, "rev-parse", "upstream-sync/v1.1.0") == report.merge_commit or report.merge_commit
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""
    assert report.pull_request is None


def _bare_fork(
    tmp_path: Path, pyproject: str | None = '[project]\nname = "x"\nversion = "1.0.0"\n'
) -> tuple[Repo, Repo]:
    up = Repo(tmp_path / "up")
    files: dict[str, str | bytes | None] = {"a.txt": "a\n"}
    if pyproject:
        files["pyproject.toml"] = pyproject
    up.commit(files, "init")
    up.tag("v1.0.0")
    fork = Repo(tmp_path / "fork")
    fork.git("remote", "add", "upstream", str(up.path))
    fork.git("fetch", "-q", "upstream", "main")
    fork.git("reset", "-q", "--hard", "upstream/main")
    Repo(tmp_path / "fork-remote.git", bare=True)
    fork.git("remote", "add", "origin", str(tmp_path / "fork-remote.git"))
    up.commit(
        {"a.txt": "a\nb\n", **({"pyproject.toml": pyproject.replace("1.0.0", "1.1.0")} if pyproject else {})},
        "next",
    )
    up.tag("v1.1.0")
    up.commit({"a.txt": "a\nb\nc\n"}, "nightly")
    up.tag("v1.2.0-nightly.20261124")
    return up, fork


@pytest.mark.parametrize(
    ("setup", "args", "code", "needle"),
    [
        ("no-upstream", [], ExitCode.CONFIG, "no upstream"),
        ("bad-config", [], ExitCode.CONFIG, "unknown key 'upstream.urll'"),
        ("bad-pattern", [], ExitCode.CONFIG, "release-tags"),
        ("no-tags", [], ExitCode.UPSTREAM, "no stable release"),
        ("tag-missing", ["--release", "v9.9.9"], ExitCode.UPSTREAM, "not found upstream"),
        ("unsafe-tag", ["--release", "--upload-pack=touch"], ExitCode.GIT, "unsafe"),
        ("dirty", [], ExitCode.GIT, "uncommitted changes"),
        ("no-version-file", [], ExitCode.GIT, "version file"),
        ("unreachable", [], ExitCode.UPSTREAM, "cannot"),
        ("not-a-repo", [], ExitCode.GIT, "not a git repository"),
        ("no-remote-to-push", [], ExitCode.GIT, "no remote 'origin'"),
    ],
)
def test_errors_are_one_line_with_distinct_codes(
    tmp_path: Path, forksync_bin: str, setup: str, args: list[str], code: int, needle: str
) -> None:
    _, fork = _bare_fork(
        tmp_path, None if setup == "no-version-file" else '[project]\nname = "x"\nversion = "1.0.0"\n'
    )
    if setup == "no-upstream":
        fork.git("remote", "remove", "upstream")
    if setup == "bad-config":
        fork.commit({".forksync.toml": '[upstream]\nurll = "x"\n'}, "cfg")
    if setup == "bad-pattern":
        fork.commit({".forksync.toml": "[upstream]\nrelease-tags = 're:(['\n"}, "cfg")
    if setup == "no-tags":
        fork.commit({".forksync.toml": "[upstream]\nrelease-tags = 'release-*'\n"}, "cfg")
    if setup == "no-remote-to-push":
        fork.git("remote", "remove", "origin")
    if setup == "dirty":
        fork.write({"a.txt": "local edit\n"})
    if setup == "unreachable":
        fork.git("remote", "set-url", "upstream", "git://127.0.0.1:9/nothing.git")
    target = tmp_path / "nowhere" if setup == "not-a-repo" else fork.path
    if setup == "not-a-repo":
        target.mkdir()
    branches_before = fork.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
    res = cli(forksync_bin, "sync", "--repo", str(target), *args)
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    errors = [line for line in res.stderr.splitlines() if line.startswith("forksync: error")]
    assert len(errors) == 1 and needle in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    # Nothing half-done: branches as they were (a failed run keeps no sync branch), no worktree left.
    if setup != "not-a-repo":
        assert fork.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads") == branches_before
        assert "worktrees" not in fork.git("worktree", "list")


def test_version_ahead_of_upstream_does_not_block_detection(tmp_path: Path) -> None:
    """LESSONS 18: a fork version bumped past every release must not hide new releases."""
    up, _ = _bare_fork(tmp_path)
    # The fork's history lost the ancestry and its pyproject says 9.0.0.
    fork2 = Repo(tmp_path / "fork2")
    fork2.git("remote", "add", "upstream", str(up.path))
    fork2.commit({"a.txt": "a\n", "pyproject.toml": '[project]\nname = "x"\nversion = "9.0.0"\n'}, "init")
    fork2.git("remote", "add", "origin", str(tmp_path / "nowhere.git"))
    report = execute(fork2.path, None, no_push=True, quiet=True)
    assert report.release is not None and report.release.tag == "v1.1.0"
    assert any("ahead of the newest stable release" in w for w in report.warnings)


def test_checks_run_without_secrets(demo: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, fork = demo
    canary = "ghp_" + "C4NARY" * 6
    monkeypatch.setenv("GITHUB_TOKEN", canary)
    monkeypatch.setenv("DEMO_API_KEY", "sk-canary-" + "x" * 30)
    config = (fork / ".forksync.toml").read_text()
    import sys

    config = config.replace("timeout = 120", "timeout = 120")
    config = config.replace(
        "commands = [", f'commands = [["{sys.executable}", "-c", "import os; print(dict(os.environ))"], ', 1
    )
    (fork / ".forksync.toml").write_text(config)
    git(fork, "commit", "-qam", "print env")
    report = execute(fork, None, quiet=True)
    dumped = report.to_json() + report.pr_body + Path(report.report_path).read_text()
    assert canary not in dumped and "sk-canary-" not in dumped
    assert report.checks and "GITHUB_TOKEN" not in report.checks[0].output_tail


def test_status_shows_the_last_run(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, _, fork = demo
    execute(fork, None, quiet=True)
    res = cli(forksync_bin, "status", "--repo", str(fork))
    assert res.returncode == 0
    assert "stages: detect:done" in res.stdout and "upstream-sync/v1.1.0" in res.stdout


def test_lock_prevents_concurrent_runs(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, _, fork = demo
    lock = fork / ".git" / "forksync" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    import socket

    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        res = cli(forksync_bin, "sync", "--repo", str(fork))
        assert res.returncode == ExitCode.LOCKED and "holds" in res.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    # The holder is gone: the stale lock is taken over.
    report = execute(fork, None, quiet=True)
    assert any("stale lock" in w for w in report.warnings)
    assert not lock.exists()


def test_config_in_pyproject_tool_section(tmp_path: Path) -> None:
    _, fork = _bare_fork(tmp_path)
    fork.commit(
        {
            "pyproject.toml": '[project]\nname = "x"\nversion = "1.0.0"\n\n[tool.forksync.fork]\n'
            'sync-branch = "sync/{version}"\n'
        },
        "config in pyproject",
    )
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.error is None, report.error
    assert report.sync_branch == "sync/v1.1.0"
    assert "`a.txt`" in report.pr_body  # the files upstream changed are listed
