"""Real repositories reproduce each silent loss a sync can cause; verify must catch each one,
and must stay silent on a clean sync."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from forksync.config import Config
from forksync.report import Finding
from forksync.verify import WORKTREE, verify
from tests.gitutil import Repo

BASE = {
    "pkg/__init__.py": "",
    "pkg/api.py": "def send(message, retries=3, timeout=10):\n    payload = message\n    return payload\n\n\n"
    'def ping():\n    return "pong"\n',
    "pkg/settings.py": 'NAME = "app"\nLIMIT = 10\nCOLOR = "blue"\n',
    "README.md": "hello\n",
}
FORK_API = (
    "from pkg.text import shout\n\n\ndef send(message, retries=3, timeout=10):\n    payload = shout(message)\n"
    '    return payload\n\n\ndef ping():\n    return "pong"\n'
)
UPSTREAM_API = (
    "def send(message, retries=3):\n    payload = message\n    return payload\n\n\n"
    'def ping():\n    return "PONG"\n'
)
MERGED_API = (
    "from pkg.text import shout\n\n\ndef send(message, retries=3):\n    payload = shout(message)\n"
    '    return payload\n\n\ndef ping():\n    return "PONG"\n'
)
FORK_SETTINGS = 'NAME = "app"\nLIMIT = 20\nCOLOR = "blue"\n'
UPSTREAM_SETTINGS = 'NAME = "app"\nLIMIT = 10\nCOLOR = "red"\n'
MERGED_SETTINGS = 'NAME = "app"\nLIMIT = 20\nCOLOR = "red"\n'
MANIFEST = """\
[[features]]
name = "shout"
description = "Messages are shouted"
files = ["pkg/text.py", "pkg/api.py"]
defines = ["pkg.text:shout", "send"]
called = ["pkg.text:shout"]
patterns = ['shout\\(message\\)']
tests = ["tests/test_fork.py::test_shout"]
"""
CLEAN = {"pkg/api.py": MERGED_API, "pkg/settings.py": MERGED_SETTINGS}


@dataclass
class Sync:
    repo: Repo
    fork: str
    upstream: str
    commits: dict[str, str]


def build(
    tmp_path: Path, *, client_call: str = 'send("hi", retries=2)', extra: dict[str, str] | None = None
) -> Sync:
    """Base on main; upstream's release on a branch and tag; the fork's commits on main."""
    repo = Repo(tmp_path / "fork")
    repo.commit(BASE, "upstream: initial")
    repo.git("branch", "upstream")
    commits = {
        "shout": repo.commit(
            {"pkg/text.py": "def shout(text):\n    return text.upper()\n", "pkg/api.py": FORK_API},
            "Shout messages (#12)",
        ),
        "client": repo.commit(
            {
                "pkg/client.py": (
                    "from pkg import api\nfrom pkg.api import send\n\n\ndef hello():\n    return "
                    + client_call
                    + "\n\n\n"
                    "def hello2():\n    return api." + client_call + "\n"
                ),
                **(extra or {}),
            },
            "Add a client (#13)",
        ),
        "limit": repo.commit({"pkg/settings.py": FORK_SETTINGS}, "Raise the limit"),
        "tests": repo.commit(
            {
                "tests/test_fork.py": (
                    "from pkg.api import send\n\n\ndef test_shout():\n    assert send('a') == 'A'\n"
                ),
                ".forksync/features.toml": MANIFEST,
            },
            "Fork tests and manifest",
        ),
    }
    fork = repo.head()
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit(
        {"pkg/api.py": UPSTREAM_API, "pkg/settings.py": UPSTREAM_SETTINGS}, "upstream: 2.0.0"
    )
    repo.tag("v2.0.0")
    commits["upstream"] = upstream
    repo.git("checkout", "-q", "-b", "sync", fork)
    return Sync(repo, fork, upstream, commits)


def merge(sync: Sync, resolution: dict[str, str | None], *, commit: bool = True) -> None:
    sync.repo.git("merge", "--no-ff", "-q", "v2.0.0", check=False)
    sync.repo.write(dict(resolution))
    sync.repo.git("add", "-A")
    if commit:
        sync.repo.git("commit", "-q", "--no-edit")


def run(sync: Sync, merged: str = "HEAD", run_tests: bool = True) -> list[Finding]:
    return verify(
        sync.repo.path,
        Config(),
        fork_before=sync.fork,
        upstream=sync.upstream,
        merged=merged,
        run_tests=run_tests,
    )


def kinds(findings: list[Finding]) -> list[str]:
    return sorted(f.kind for f in findings)


def test_clean_sync_has_no_finding(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(sync, CLEAN)
    assert sync.repo.git("rev-list", "--parents", "-n1", "HEAD").count(" ") == 2
    assert run(sync) == []


def test_call_in_automatically_merged_file_passing_a_removed_argument(tmp_path: Path) -> None:
    sync = build(tmp_path, client_call='send("hi", timeout=5)')
    merge(sync, CLEAN)
    assert "pkg/client.py" not in sync.repo.git("show", "--name-only", "--format=", "HEAD")  # git merged it
    findings = run(sync)
    assert kinds(findings) == ["broken-call", "broken-call"]
    assert {(f.path, f.line) for f in findings} == {("pkg/client.py", 6), ("pkg/client.py", 10)}
    assert all("'timeout'" in f.message and f.commit == sync.commits["client"] for f in findings)


def test_call_through_a_package_re_export(tmp_path: Path) -> None:
    sync = build(
        tmp_path,
        extra={
            "pkg/__init__.py": "from .api import send\n",
            "tools/__init__.py": "",
            "tools/batch.py": "from pkg import send\n\n\ndef flush():\n    send('x', 1, timeout=2)\n",
        },
    )
    merge(sync, CLEAN)
    findings = run(sync, run_tests=False)
    assert [(f.kind, f.path, f.line) for f in findings] == [("broken-call", "tools/batch.py", 5)]


def test_positional_argument_beyond_the_new_signature(tmp_path: Path) -> None:
    sync = build(tmp_path, client_call='send("hi", 2, 5)')
    merge(sync, CLEAN)
    findings = run(sync, run_tests=False)
    assert kinds(findings) == ["broken-call", "broken-call"]
    assert "3 positional" in findings[0].message


def test_call_already_broken_before_the_merge_is_not_blamed_on_it(tmp_path: Path) -> None:
    sync = build(tmp_path, client_call='send("hi", bogus=1)')
    merge(sync, CLEAN)
    assert run(sync, run_tests=False) == []


def test_orphaned_fork_helper_and_what_went_with_its_caller(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(
        sync, {"pkg/api.py": UPSTREAM_API, "pkg/settings.py": MERGED_SETTINGS}
    )  # took upstream's file whole
    findings = run(sync)
    orphan = [f for f in findings if f.kind == "orphan"]
    assert len(orphan) == 1
    assert (orphan[0].path, orphan[0].line, orphan[0].feature) == ("pkg/text.py", 1, "shout")
    assert "shout" in orphan[0].message and "pkg/api.py:5" in orphan[0].message
    assert orphan[0].commit == sync.commits["shout"]
    lost = [f for f in findings if f.kind == "lost-fork-change"]
    assert [(f.path, f.commit) for f in lost] == [("pkg/api.py", sync.commits["shout"])] * len(lost) and lost
    manifest = " | ".join(f.message for f in findings if f.kind == "manifest")
    assert "pkg.text:shout is no longer called" in manifest
    assert "pattern" in manifest and "tests/test_fork.py::test_shout failed" in manifest
    assert any(f.kind == "fork-test" and "test_shout" in f.message for f in findings)


def test_resolution_that_dropped_a_fork_hunk(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(sync, {"pkg/api.py": MERGED_API, "pkg/settings.py": UPSTREAM_SETTINGS})
    findings = run(sync, run_tests=False)
    assert kinds(findings) == ["lost-fork-change"]
    f = findings[0]
    assert (f.path, f.line, f.commit) == ("pkg/settings.py", 2, sync.commits["limit"])
    assert "LIMIT = 20" in f.message


def test_resolution_that_dropped_an_upstream_hunk(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(sync, {"pkg/api.py": MERGED_API, "pkg/settings.py": FORK_SETTINGS})
    findings = run(sync, run_tests=False)
    assert kinds(findings) == ["lost-upstream-change"]
    f = findings[0]
    assert (f.path, f.line, f.commit) == ("pkg/settings.py", 3, sync.commits["upstream"])


def test_fork_file_kept_whole_loses_upstream_changes(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(sync, {"pkg/api.py": FORK_API, "pkg/settings.py": MERGED_SETTINGS})
    findings = run(sync, run_tests=False)
    assert kinds(findings) == ["lost-upstream-change", "lost-upstream-change"]
    assert {f.line for f in findings} == {1, 7}


def test_uncommitted_worktree_is_verified(tmp_path: Path) -> None:
    sync = build(tmp_path)
    merge(sync, {"pkg/api.py": MERGED_API, "pkg/settings.py": UPSTREAM_SETTINGS}, commit=False)
    findings = run(sync, merged=WORKTREE, run_tests=False)
    assert kinds(findings) == ["lost-fork-change"]
    sync.repo.write({"pkg/settings.py": MERGED_SETTINGS})  # the agent's fix
    assert run(sync, merged=WORKTREE, run_tests=False) == []


def test_failing_manifest_test_is_a_finding(tmp_path: Path) -> None:
    sync = build(tmp_path)
    broken = MERGED_API.replace("    return payload\n", "    payload = payload.lower()\n    return payload\n")
    merge(sync, {**CLEAN, "pkg/api.py": broken})  # every line of both sides is kept, yet the feature broke
    findings = run(sync)
    assert sorted((f.kind, f.feature) for f in findings) == [("fork-test", "shout"), ("manifest", "shout")]
    assert "tests/test_fork.py::test_shout failed" in findings[0].message
    assert run(sync, run_tests=False) == []


@pytest.mark.parametrize("missing", ["defines", "file"])
def test_manifest_presence_checks(tmp_path: Path, missing: str) -> None:
    sync = build(tmp_path)
    if missing == "file":
        merge(sync, {**CLEAN, "pkg/text.py": None, "pkg/api.py": MERGED_API.replace("shout", "str")})
    else:
        merge(
            sync,
            {
                **CLEAN,
                "pkg/text.py": "def yell(text):\n    return text.upper()\n",
                "pkg/api.py": MERGED_API.replace("shout", "yell"),
            },
        )
    messages = [f.message for f in run(sync, run_tests=False) if f.kind == "manifest"]
    assert any("pkg.text:shout is no longer defined" in m for m in messages)
    assert any("no longer called" in m for m in messages)
    assert any("pattern" in m for m in messages)
    assert any("file pkg/text.py is gone" in m for m in messages) == (missing == "file")


def test_file_the_fork_deleted_loses_upstream_changes_once(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    body = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(12))
    repo.commit({"old.py": body, "keep.py": "x = 1\n"}, "upstream: initial")
    repo.git("branch", "upstream")
    fork = repo.commit({"old.py": None}, "Drop old.py")
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit(
        {"old.py": body.replace("return 1\n", "return 100\n").replace("return 11\n", "return 1100\n")},
        "upstream: change old.py twice",
    )
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "upstream", check=False)
    repo.git("rm", "-q", "old.py")
    repo.git("commit", "-q", "--no-edit")
    findings = verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False)
    assert [(f.kind, f.path, f.commit) for f in findings] == [("lost-upstream-change", "old.py", upstream)]
    assert "2 upstream change(s)" in findings[0].message


def test_non_ascii_path_is_reported_by_its_name(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"modules/café.py": "A = 1\nB = 2\n"}, "upstream: initial")
    repo.git("branch", "upstream")
    fork = repo.commit({"modules/café.py": "A = 10\nB = 2\n"}, "Fork: A is 10")
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit({"modules/café.py": "A = 1\nB = 20\n"}, "upstream: B is 20")
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "upstream", check=False)
    repo.write({"modules/café.py": "A = 1\nB = 20\n"})
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-edit")
    findings = verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False)
    assert [(f.kind, f.path, f.line, f.commit) for f in findings] == [
        ("lost-fork-change", "modules/café.py", 1, fork)
    ]
