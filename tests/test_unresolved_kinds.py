"""Paths left for review, of every kind, are visibly unresolved: markers wherever a path can hold
them, else the fork's state, and the report and body say per file what was committed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from forksync.commands.sync import execute
from forksync.report import ConflictRecord, Report
from tests.gitutil import Repo, fork_of, git

# The engine left on: every path below is one no resolver may settle.
WORKFLOW = "name: release\non: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make publish\n"


def _commit(repo: Repo, files: dict[str, str | bytes | None], message: str) -> None:
    """Like Repo.commit, but staging only the named files (`add -A` would drop the gitlink)."""
    repo.write(files)
    if files:
        repo.git("add", "--", *files)
    repo.git("commit", "-qm", message)


def _blob(repo: Path, rev: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "cat-file", "-p", f"{rev}:{path}"], cwd=repo, capture_output=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, Report]:
    tmp = tmp_path_factory.mktemp("kinds")
    sub = Repo(tmp / "sub")
    subs = [sub.commit({"s": str(i)}, f"s{i}") for i in range(3)]
    up = Repo(tmp / "up")
    up.commit(
        {
            "pyproject.toml": '[project]\nname = "kinds"\nversion = "1.0.0"\n',
            ".github/workflows/release.yml": WORKFLOW,
            "legacy.py": "def old():\n    return 1\n",
            "orig.py": "def moved():\n    return 'm'\n",
            "logo.png": b"\x89PNG\0\0base",
            "icon.bin": b"\0\1base",
            "a.txt": "a\n",
            "b.txt": "b\n",
        },
        "base",
    )
    os.symlink("a.txt", up.path / "link")
    up.git("update-index", "--add", "--cacheinfo", f"160000,{subs[0]},vendor/sub")
    up.git("add", "link")
    _commit(up, {}, "link and submodule")
    up.tag("v1.0.0")
    fork = fork_of(up, tmp)

    # The fork: deletes the release workflow and a binary, changes legacy.py, renames orig.py,
    # adds NEW.md, changes the logo, repoints the link and moves the submodule.
    fork.git("rm", "-q", ".github/workflows/release.yml", "icon.bin")
    fork.git("mv", "orig.py", "fork_name.py")
    (fork.path / "link").unlink()
    os.symlink("b.txt", fork.path / "link")
    fork.git("update-index", "--cacheinfo", f"160000,{subs[1]},vendor/sub")
    fork.git("add", "link")
    _commit(
        fork,
        {
            "legacy.py": "def old():\n    return 2  # fork\n",
            "NEW.md": "# fork's notes\n",
            "logo.png": b"\x89PNG\0\0fork",
        },
        "fork changes",
    )
    # Upstream: changes the workflow and the binary the fork deleted, deletes legacy.py,
    # renames orig.py elsewhere, adds its own NEW.md, changes the logo, link and submodule.
    up.git("rm", "-q", "legacy.py")
    up.git("mv", "orig.py", "upstream_name.py")
    (up.path / "link").unlink()
    os.symlink("pyproject.toml", up.path / "link")
    up.git("update-index", "--cacheinfo", f"160000,{subs[2]},vendor/sub")
    up.git("add", "link")
    _commit(
        up,
        {
            ".github/workflows/release.yml": WORKFLOW.replace("make publish", "make publish-v2"),
            "icon.bin": b"\0\1upstream",
            "NEW.md": "# upstream's notes\n",
            "logo.png": b"\x89PNG\0\0upstream",
            "pyproject.toml": '[project]\nname = "kinds"\nversion = "1.1.0"\n',
        },
        "release",
    )
    up.tag("v1.1.0")
    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    assert report.merge_commit and report.exit_code == 6
    return fork, report


def _rec(report: Report, path: str) -> ConflictRecord:
    found = {c.path: c for c in report.conflicts}
    assert path in found, sorted(found)
    rec = found[path]
    assert rec.outcome == "unresolved", (path, rec.rule, rec.reason)
    return rec


def _body_line(report: Report, path: str) -> str:
    lines = report.pr_body.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"- **`{path}`**"))
    assert lines[at + 1].startswith("  - committed: "), lines[at : at + 2]
    return lines[at + 1]


def test_modify_delete_keeps_the_deleted_workflow_out_of_reach(synced: tuple[Repo, Report]) -> None:
    """The fork deleted the workflow: it comes back only as a conflict block, never as upstream's copy."""
    fork, report = synced
    rec = _rec(report, ".github/workflows/release.yml")
    assert rec.committed == "markers" and "the fork has no file here" in rec.committed_note
    assert "the fork deleted it" in rec.committed_note and "upstream changed it" in rec.committed_note
    data = _blob(fork.path, report.merge_commit, ".github/workflows/release.yml").decode()
    assert data.startswith("<<<<<<< fork (main), no file on this side\n")
    assert "make publish-v2" in data and data.rstrip().endswith(">>>>>>> upstream (v1.1.0)")
    with pytest.raises(YAMLError):  # so it cannot run as a workflow on the sync branch either
        list(YAML(typ="safe", pure=True).load_all(data))
    assert "conflict markers around the whole file" in _body_line(report, ".github/workflows/release.yml")


def test_delete_modify_shows_the_fork_copy_inside_markers(synced: tuple[Repo, Report]) -> None:
    fork, report = synced
    rec = _rec(report, "legacy.py")
    assert rec.committed == "markers" and "upstream has no file here" in rec.committed_note
    data = _blob(fork.path, report.merge_commit, "legacy.py").decode()
    assert "return 2  # fork" in data and ">>>>>>> upstream (v1.1.0), no file on this side" in data


def test_add_add_commits_line_markers(synced: tuple[Repo, Report]) -> None:
    fork, report = synced
    rec = _rec(report, "NEW.md")
    assert rec.committed == "markers" and rec.committed_note.startswith("conflict markers;")
    data = _blob(fork.path, report.merge_commit, "NEW.md").decode()
    assert "# fork's notes" in data and "# upstream's notes" in data and "=======" in data


def test_rename_rename_commits_the_fork_name_with_markers(synced: tuple[Repo, Report]) -> None:
    fork, report = synced
    rec = _rec(report, "fork_name.py")
    assert rec.committed == "markers" and "rename/rename" in rec.committed_note, rec.committed_note
    assert "the fork renamed a file to this path" in rec.committed_note
    data = _blob(fork.path, report.merge_commit, "fork_name.py").decode()
    assert "def moved()" in data and ">>>>>>> upstream (v1.1.0), no file on this side" in data
    gone = _rec(report, "orig.py")  # the base path: neither side keeps it
    assert gone.committed == "absent" and "upstream deleted it (or renamed it away)" in gone.committed_note


def test_binary_symlink_submodule_keep_the_fork_state_and_name_upstreams(synced: tuple[Repo, Report]) -> None:
    fork, report = synced
    logo = _rec(report, "logo.png")
    assert (
        logo.committed == "fork" and _blob(fork.path, report.merge_commit, "logo.png") == b"\x89PNG\0\0fork"
    )
    up_logo = git(fork.path, "rev-parse", f"{report.merge_parents[1]}:logo.png")
    assert f"upstream changed it (blob {up_logo[:10]})" in logo.committed_note

    link = _rec(report, "link")
    assert link.committed == "fork" and "a symlink to 'pyproject.toml'" in link.committed_note
    assert git(fork.path, "ls-tree", report.merge_commit, "link").startswith("120000")
    assert _blob(fork.path, report.merge_commit, "link") == b"b.txt"

    sub = _rec(report, "vendor/sub")
    up_sub = git(fork.path, "rev-parse", f"{report.merge_parents[1]}:vendor/sub")
    assert sub.committed == "fork" and f"submodule at commit {up_sub[:10]}" in sub.committed_note
    fork_sub = git(fork.path, "rev-parse", "main:vendor/sub")
    assert git(fork.path, "rev-parse", f"{report.merge_commit}:vendor/sub") == fork_sub

    icon = _rec(report, "icon.bin")  # binary the fork deleted: stays deleted, upstream's blob named
    assert icon.committed == "absent" and "the fork deleted it" in icon.committed_note
    assert "icon.bin" not in git(fork.path, "ls-tree", "-r", "--name-only", report.merge_commit)
    assert "the fork's copy, unchanged" in _body_line(report, "logo.png")
    assert "no file (the fork's state)" in _body_line(report, "icon.bin")


def test_every_unresolved_path_says_what_was_committed(synced: tuple[Repo, Report]) -> None:
    fork, report = synced
    assert report.unresolved and all(c.committed and c.committed_note for c in report.unresolved)
    message = git(fork.path, "log", "-1", "--format=%B", report.merge_commit)
    assert "  logo.png (fork)" in message and "  .github/workflows/release.yml (markers)" in message
    assert report.recommendation == "needs-review" and report.pull_request and report.pull_request.draft
