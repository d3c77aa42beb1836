"""Shared fixtures: real repositories and a real git transport on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitutil import ENV


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's git config, and commits get a stable identity."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("FORKSYNC_RETRY_BASE", "0.2")  # git network retries back off quickly in tests
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GitDaemon:
    """`git daemon` serving a folder on 127.0.0.1 (read and push)."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or _free_port()
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                f"--base-path={root}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                "--informative-errors",
                str(root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **ENV},
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("git daemon did not start")

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    root = tmp_path / "served"
    root.mkdir()
    daemon = GitDaemon(root)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, Path, Path]:
    from forksync.demo import build

    return build(tmp_path / "demo")


def copy_bare(src: Path, dest: Path) -> Path:
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(src), str(dest)], check=True, env={**os.environ, **ENV}
    )
    return dest


@pytest.fixture
def forksync_bin() -> str:
    import sys

    path = Path(sys.executable).parent / "forksync"
    assert path.exists(), "forksync is not installed in this environment"
    return str(path) if path.exists() else shutil.which("forksync") or "forksync"
