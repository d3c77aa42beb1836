"""Ctrl-C and a CI cancel (real signals to a real `forksync sync`) stop the run cleanly: the
running check is killed, the lock released, the worktree removed, and `--resume` finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.gitutil import git


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker`` (the check, and bwrap running it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = next(
                (line for line in (entry / "status").read_text().splitlines() if line.startswith("State:")),
                "",
            )
        except OSError:
            continue
        if marker.encode() in cmdline and "zombie" not in state:
            found.append(int(entry.name))
    return found


def slow_check_config(fork: Path, marker: str) -> None:
    """The fork's config with one check that sleeps for $FS_TEST_SLEEP seconds."""
    text = (fork / ".forksync.toml").read_text()
    head, _, rest = text.partition("[checks]\n")
    rest = rest.split("\n", 2)[2]  # drop the demo's commands and timeout lines
    code = "import os, time; time.sleep(float(os.environ.get('FS_TEST_SLEEP', '0')))"
    check = (
        f'commands = [[{json.dumps(sys.executable)}, "-c", {json.dumps(code)}, "{marker}"]]\ntimeout = 120\n'
    )
    (fork / ".forksync.toml").write_text(head + "[checks]\n" + check + rest)
    git(fork, "commit", "-qam", "slow check")


def resume(forksync_bin: str, fork: Path) -> dict[str, Any]:
    """`forksync sync --resume --json`, without the test's slow check: its report."""
    resumed = subprocess.run(
        [forksync_bin, "sync", "--repo", str(fork), "--resume", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "FS_TEST_SLEEP": "0"},
        timeout=120,
        check=False,
    )
    return json.loads(resumed.stdout)  # type: ignore[no-any-return]


def wait_for(predicate: Callable[[], bool], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_sync_cleanly_and_resume_finishes_it(
    demo: tuple[Path, Path, Path], forksync_bin: str, sig: signal.Signals
) -> None:
    _, remote, fork = demo
    marker = f"forksync-test-{uuid.uuid4().hex}"
    slow_check_config(fork, marker)
    env = {**os.environ, "FS_TEST_SLEEP": "60"}
    proc = subprocess.Popen(
        [forksync_bin, "sync", "--repo", str(fork), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        wait_for(lambda: len(processes_with(marker)) > 0 or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        started = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 15
    assert proc.returncode == 128 + sig, err
    wait_for(lambda: processes_with(marker) == [], timeout=5)  # the check did not outlive forksync
    report = json.loads(out)
    assert report["status"] == "interrupted"
    assert report["error"]["message"] == f"interrupted by {sig.name} during stage checks"
    assert report["stages"][-1] == {
        "name": "checks",
        "status": "interrupted",
        "duration_s": 0.0,
        "note": sig.name,
    }
    assert not (fork / ".git" / "forksync" / "lock").exists()
    assert not Path(report["worktree"]).exists()
    assert "forksync-wt-" not in git(fork, "worktree", "list")

    status = subprocess.run(
        [forksync_bin, "status", "--repo", str(fork), "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(status.stdout)["status"] == "interrupted"

    again = resume(forksync_bin, fork)
    assert any(w.startswith(f"resuming run {report['run_id']}") for w in again["warnings"]), again["warnings"]
    assert again["status"] == "synced" and again["exit_code"] == 0, again["error"]
    assert git(remote, "rev-parse", "refs/heads/upstream-sync/v1.1.0") == again["merge_commit"]


def test_a_killed_sync_takes_its_check_along_and_the_next_run_sweeps_its_worktree(
    demo: tuple[Path, Path, Path], forksync_bin: str
) -> None:
    """SIGKILL cannot be handled: bwrap's --die-with-parent ends the check, the next run cleans up."""
    _, _, fork = demo
    marker = f"forksync-test-{uuid.uuid4().hex}"
    slow_check_config(fork, marker)
    proc = subprocess.Popen(
        [forksync_bin, "sync", "--repo", str(fork), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FS_TEST_SLEEP": "60"},
    )
    try:
        wait_for(lambda: len(processes_with(marker)) > 0 or proc.poll() is not None)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Near-instant; the timeout is generous for a loaded machine.
    wait_for(lambda: processes_with(marker) == [], timeout=20)
    left = json.loads((fork / ".git" / "forksync" / "last.json").read_text())
    assert left["status"] == "running" and Path(left["worktree"]).is_dir()
    remembered = (fork / ".git" / "forksync" / "worktrees.txt").read_text().split()
    assert remembered == [left["worktree"]]
    report = resume(forksync_bin, fork)
    assert report["status"] == "synced", report["error"]
    assert not Path(left["worktree"]).exists()
    assert "forksync-wt-" not in git(fork, "worktree", "list")
