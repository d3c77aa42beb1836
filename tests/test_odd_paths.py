"""Paths a hostile or odd upstream release brings (issue 13): a space, a newline, a file turned
into a symlink. Each merges, is reported truthfully, and no side's copy lands under a new name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def test_space_newline_and_file_to_symlink(tmp_path: Path) -> None:
    up = tmp_path / "up"
    up.mkdir()
    _git(up, "init", "-q", "-b", "main")
    (up / "docs dir").mkdir()
    (up / "docs dir" / "read me.md").write_text("a\nb\nc\n")
    (up / "app.py").write_text("x = 1\n")
    (up / "cfg.txt").write_text("target\n")
    (up / "old.txt").write_text("old\n")
    (up / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1.0.0"\n')
    _git(up, "add", "-A")
    _git(up, "commit", "-qm", "base")
    _git(up, "tag", "v1.0.0")
    fork = tmp_path / "fork"
    _git(tmp_path, "clone", "-q", str(up), str(fork))
    (fork / "app.py").write_text("x = 1\ny = 2  # fork\n")
    (fork / "cfg.txt").write_text("fork cfg\n")
    (fork / ".forksync.toml").write_text('[upstream]\nurl = "../up"\n[forge]\nkind = "local"\n')
    _git(fork, "add", "-A")
    _git(fork, "commit", "-qm", "fork")
    (up / "docs dir" / "read me.md").write_text("a\nb changed upstream\nc\n")
    (up / "cfg.txt").unlink()
    os.symlink("app.py", up / "cfg.txt")
    _git(up, "mv", "old.txt", "new\nname.txt")
    (up / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1.1.0"\n')
    _git(up, "add", "-A")
    _git(up, "commit", "-qm", "upstream")
    _git(up, "tag", "v1.1.0")
    forksync = Path(sys.executable).parent / "forksync"
    done = subprocess.run(
        [str(forksync), "sync", "--repo", str(fork), "--no-push", "--json"], capture_output=True, text=True
    )
    assert done.returncode == 6, done.stderr  # one file left for review, nothing failed
    report = json.loads(done.stdout)
    assert report["findings"] == []  # no false "lost upstream change" for the path with a space
    (conflict,) = report["conflicts"]
    assert conflict["path"] == "cfg.txt" and conflict["committed"] == "fork"
    assert "a symlink to 'app.py'" in conflict["committed_note"]
    branch = "upstream-sync/v1.1.0"
    assert _git(fork, "ls-tree", branch, "cfg.txt").split()[0] == "100644"  # the fork's file, not the link
    assert _git(fork, "show", f"{branch}:cfg.txt") == "fork cfg\n"
    names = _git(fork, "ls-tree", "-r", "-z", "--name-only", branch).split("\0")
    assert not any(n.startswith("cfg.txt~") for n in names)  # nothing under a new name
    assert "new\nname.txt" in names and "b changed upstream" in _git(
        fork, "show", f"{branch}:docs dir/read me.md"
    )
