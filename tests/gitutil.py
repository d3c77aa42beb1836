"""Build real git repositories for tests: no mocks of git, ever."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **ENV, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


class Repo:
    """A throwaway repository with helpers to write files and commit them."""

    def __init__(self, path: Path, *, bare: bool = False, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", branch, *(["--bare"] if bare else []))
        if not bare:
            git(path, "config", "user.name", "Test Author")
            git(path, "config", "user.email", "author@example.com")

    def git(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        return git(self.path, *args, check=check, env=env)

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                if target.exists():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def commit(self, files: dict[str, str | bytes | None], message: str, *, author: str | None = None) -> str:
        self.write(files)
        self.git("add", "-A")
        env = {}
        if author:
            name, _, email = author.partition("<")
            env = {"GIT_AUTHOR_NAME": name.strip(), "GIT_AUTHOR_EMAIL": email.rstrip(">").strip()}
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, rev: str = "HEAD", message: str | None = None) -> None:
        if message:
            self.git("tag", "-a", name, "-m", message, rev)
        else:
            self.git("tag", name, rev)

    def read(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def fork_of(up: Repo, root: Path) -> Repo:
    """A fork of ``up`` at ``root/fork``, its main at upstream's, with `upstream` and `origin`
    remotes (origin a bare ``root/remote.git``): the starting point of most sync tests."""
    Repo(root / "remote.git", bare=True)
    fork = Repo(root / "fork")
    fork.git("remote", "add", "upstream", str(up.path))
    fork.git("remote", "add", "origin", str(root / "remote.git"))
    fork.git("fetch", "-q", "upstream", "main")
    fork.git("reset", "-q", "--hard", "upstream/main")
    return fork
