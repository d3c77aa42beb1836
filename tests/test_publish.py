"""The split workflow end to end: `sync --export` (no token) then `forksync publish` in a fresh
checkout of the fork, against the GitHub REST stand-in; and the exports publish must refuse."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from forksync.commands.sync import execute
from forksync.config import load_config
from forksync.handoff import MANIFEST_FILE, REPORT_FILE, RefusedError, parse_report
from forksync.publish import publish_export, recheck_recommendation, token_push_env
from forksync.ui import Progress
from tests.gitutil import ENV, git
from tests.standins.github_api import GitHubStandIn

TOKEN = "ghp_" + "Publ1sh" * 5
BRANCH = "upstream-sync/v1.1.0"


@pytest.fixture(scope="module")
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn({TOKEN: "write"}) as server:
        repo = server.add_repo("acme/tinyproxy")
        repo.refs[BRANCH] = "0" * 40
        yield server


@pytest.fixture(scope="module")
def pristine(gh: GitHubStandIn, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Job 1 once per module: the demo synced without any token, exported (tests copy it)."""
    from forksync.demo import build

    root = tmp_path_factory.mktemp("split")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        for name in (
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "GITHUB_API_URL",
            "GITHUB_REPOSITORY",
            "SLACK_WEBHOOK_URL",
            "CI",
        ):
            mp.delenv(name, raising=False)
        _, _, fork = build(root / "demo")
        _configure(fork, gh)
        report = execute(fork, None, quiet=True, export_dir=root / "export")
    assert report.status == "synced" and report.error is None, report.error
    return root


def _configure(fork: Path, gh: GitHubStandIn) -> None:
    text = (fork / ".forksync.toml").read_text()
    text = text.replace('kind = "local"', f'kind = "github"\nrepo = "acme/tinyproxy"\napi-url = "{gh.url}"')
    (fork / ".forksync.toml").write_text(text)
    git(fork, "commit", "-qam", "sync through GitHub")
    git(fork, "push", "-q", "origin", "main")


@pytest.fixture
def exported(
    pristine: Path, gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, Path]:
    """A copy of job 1's output. Returns (export dir, job 2's fresh checkout of the fork, its remote)."""
    for name in ("GITHUB_API_URL", "GITHUB_REPOSITORY", "SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    for pull in gh.repos["acme/tinyproxy"].pulls.values():
        pull["state"] = "closed"
    shutil.copytree(pristine, tmp_path / "split", symlinks=True)
    root = tmp_path / "split"
    # Job 2 checks the fork out afresh, next to upstream (the config names it "../upstream").
    remote = root / "demo" / "fork-remote.git"
    git(root / "demo" / "fork", "remote", "set-url", "origin", str(remote))
    job2 = root / "demo" / "publish-job"
    git(root, "clone", "-q", str(remote), str(job2))
    return root / "export", job2, remote


def _publish_cli(job2: Path, export: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "GITHUB_TOKEN": TOKEN}
    return subprocess.run(  # --from relative to the caller's folder, as a workflow step gives it
        ["forksync", "publish", "--repo", str(job2), "--from", export.name],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=export.parent,
    )


def _tamper(export: Path, report: Callable[[dict[str, Any]], None] | None = None, **manifest: str) -> None:
    """Change the export as a compromised job 1 could, keeping the checksums consistent."""
    data = json.loads((export / REPORT_FILE).read_text())
    if report is not None:
        report(data)
    raw = json.dumps(data).encode()
    (export / REPORT_FILE).write_bytes(raw)
    meta = json.loads((export / MANIFEST_FILE).read_text())
    meta.update(manifest, report_sha256=hashlib.sha256(raw).hexdigest())
    (export / MANIFEST_FILE).write_text(json.dumps(meta))


def _open_pulls(gh: GitHubStandIn) -> list[dict[str, Any]]:
    return [p for p in gh.repos["acme/tinyproxy"].pulls.values() if p["state"] == "open"]


def test_export_then_publish_opens_the_pull_request(
    exported: tuple[Path, Path, Path], gh: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, job2, remote = exported
    assert sorted(p.name for p in export.iterdir()) == ["manifest.json", "report.json", "sync.bundle"]
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)  # job 1 pushed nothing
    manifest = json.loads((export / MANIFEST_FILE).read_text())
    _tamper(export, lambda r: r.update(pr_body="INJECTED body", pr_title="INJECTED", labels=["ready", "x"]))

    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config, _ = load_config(job2, None)
    report = publish_export(job2, config, export, Progress(quiet=True), "")
    assert report.error is None, report.error
    assert git(remote, "rev-parse", f"refs/heads/{BRANCH}") == manifest["tip"]
    (pull,) = _open_pulls(gh)
    assert pull["head"]["ref"] == BRANCH and "Create a merge commit" in pull["body"]
    assert "INJECTED" not in pull["body"] and "INJECTED" not in pull["title"]  # re-rendered, not posted
    assert {lbl["name"] for lbl in pull["labels"]} == {"automated-sync", report.recommendation}
    assert git(job2, "for-each-ref", "refs/forksync/incoming/") == ""  # the private ref is gone
    assert TOKEN not in json.dumps(report.to_dict())
    assert [s.name for s in report.stages][-2:] == ["push", "pr"]

    # A reviewer pushes a fix to the sync branch. The next night, in a fresh checkout (as CI
    # has: no local sync branch, no credentials), job 1 continues the published branch; publish
    # fast-forwards it (never forced) and updates the same pull request.
    reviewer = export.parent / "demo" / "reviewer"
    git(export.parent, "clone", "-q", "-b", BRANCH, str(remote), str(reviewer))
    (reviewer / "REVIEW.md").write_text("fixed by hand\n")
    git(reviewer, "add", "-A")
    git(reviewer, "commit", "-qm", "review fix")
    git(reviewer, "push", "-q", "origin", BRANCH)
    fix = git(reviewer, "rev-parse", "HEAD")
    night2 = export.parent / "demo" / "night2"
    git(export.parent, "clone", "-q", str(remote), str(night2))
    again = execute(night2, None, quiet=True, release="v1.1.0", export_dir=export.parent / "export2")
    assert again.error is None, again.error
    # The person's commit is the tip that goes out; the sync merge under it stays forksync's.
    assert json.loads((export.parent / "export2" / MANIFEST_FILE).read_text())["tip"] == fix
    assert again.merge_commit != fix
    git(job2, "fetch", "-q", "origin")
    second = publish_export(job2, config, export.parent / "export2", Progress(quiet=True), "")
    assert second.error is None, second.error
    assert second.pull_request is not None and second.pull_request.action in ("updated", "unchanged")
    assert len(_open_pulls(gh)) == 1 and git(remote, "rev-parse", BRANCH) == fix


def test_a_tip_not_descending_from_main_is_refused(
    exported: tuple[Path, Path, Path], gh: GitHubStandIn
) -> None:
    export, job2, remote = exported
    rogue = export.parent / "rogue"
    git(export.parent, "init", "-q", "-b", "main", str(rogue))
    (rogue / "evil.py").write_text("print('owned')\n")
    git(rogue, "add", "-A")
    git(rogue, "commit", "-qm", "unrelated history")
    git(rogue, "branch", BRANCH)
    bundle = export / "sync.bundle"
    git(rogue, "bundle", "create", "-q", str(bundle), f"refs/heads/{BRANCH}")
    tip = git(rogue, "rev-parse", "HEAD")
    _tamper(export, tip=tip, bundle_sha256=hashlib.sha256(bundle.read_bytes()).hexdigest())
    proc = _publish_cli(job2, export)
    assert proc.returncode == 14, proc.stderr
    assert proc.stderr.startswith("forksync: error: ") and "does not descend from main" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)


def test_a_tip_without_the_release_is_refused(exported: tuple[Path, Path, Path], gh: GitHubStandIn) -> None:
    export, job2, remote = exported
    git(job2, "checkout", "-q", "-b", BRANCH)
    (job2 / "evil.py").write_text("print('owned')\n")
    git(job2, "add", "-A")
    git(job2, "commit", "-qm", "looks like a sync")
    bundle = export / "sync.bundle"
    git(job2, "bundle", "create", "-q", str(bundle), f"refs/heads/{BRANCH}", "^main")
    tip = git(job2, "rev-parse", "HEAD")
    git(job2, "checkout", "-q", "main")
    git(job2, "branch", "-q", "-D", BRANCH)
    _tamper(export, tip=tip, bundle_sha256=hashlib.sha256(bundle.read_bytes()).hexdigest())
    proc = _publish_cli(job2, export)
    assert proc.returncode == 14 and "does not contain the release commit" in proc.stderr, proc.stderr
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)


def test_a_report_naming_another_release_commit_is_refused(
    exported: tuple[Path, Path, Path], gh: GitHubStandIn
) -> None:
    export, job2, remote = exported
    other = git(export.parent / "demo" / "upstream", "rev-parse", "v1.0.0^{commit}")

    def lie(r: dict[str, Any]) -> None:
        r["release"]["commit"] = other

    _tamper(export, lie, release_commit=other)
    proc = _publish_cli(job2, export)
    assert proc.returncode == 14 and "upstream says" in proc.stderr, proc.stderr
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("oversized", "over the limit"),
        ("garbled", "not valid JSON"),
        ("wrong-type", "expected a string"),
        ("other-branch", "the sync of v1.1.0 uses"),
    ],
)
def test_damaged_exports_are_refused(
    exported: tuple[Path, Path, Path], gh: GitHubStandIn, damage: str, message: str
) -> None:
    export, job2, remote = exported
    if damage == "oversized":
        with (export / REPORT_FILE).open("r+b") as fh:
            fh.truncate(33 * 1024 * 1024)  # over the cap: refused before a byte is read
    elif damage == "garbled":
        (export / REPORT_FILE).write_bytes(b'{"run_id": "x", ')
        _tamper_manifest_checksum(export)
    elif damage == "wrong-type":
        _tamper(export, lambda r: r.update(sync_branch=["main"]))
    else:
        _tamper(export, lambda r: r.update(sync_branch="main"), sync_branch="main")
    proc = _publish_cli(job2, export)
    assert proc.returncode == 14 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)


def _tamper_manifest_checksum(export: Path) -> None:
    meta = json.loads((export / MANIFEST_FILE).read_text())
    meta["report_sha256"] = hashlib.sha256((export / REPORT_FILE).read_bytes()).hexdigest()
    (export / MANIFEST_FILE).write_text(json.dumps(meta))


def test_parse_report_refuses_unknown_keys_nan_and_deep_nesting() -> None:
    with pytest.raises(RefusedError, match="unknown key"):
        parse_report(
            b'{"run_id": "1", "started_at": "", "repo": "", "fork_branch": "main", "upstream_url": "", "x": 1}'
        )
    with pytest.raises(RefusedError, match="not valid JSON"):
        parse_report(b'{"run_id": NaN}')
    with pytest.raises(RefusedError, match="not valid JSON"):
        parse_report(b"[" * 100_000 + b"]" * 100_000)


def test_a_ready_claim_against_the_data_is_downgraded(demo: tuple[Path, Path, Path]) -> None:
    from forksync.report import ConflictRecord, Report

    _, _, fork = demo
    config, _ = load_config(fork, None)
    report = Report("1", "", "", "main", "", recommendation="ready")
    report.conflicts = [ConflictRecord("a.py", "content", "unresolved", "none", "open")]
    recheck_recommendation(report, config)
    assert report.recommendation == "needs-review" and report.labels == ["automated-sync", "needs-review"]


def test_token_reaches_git_through_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    env = token_push_env("https://github.com/acme/tinyproxy")
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.com/acme/tinyproxy.extraheader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("AUTHORIZATION: basic ")
    assert token_push_env("git://127.0.0.1/fork") == {}  # no token sent to other transports


def test_a_failed_sync_is_notified_by_publish_and_keeps_its_exit_code(
    exported: tuple[Path, Path, Path], gh: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Job 1 holds no webhook: its failure reaches Slack through job 2, which pushes nothing."""
    from tests.standins.webhook_receiver import WebhookReceiver

    export, job2, remote = exported

    def failed(r: dict[str, Any]) -> None:
        r.update(status="failed", exit_code=5, error={"kind": "upstream", "message": "upstream unreachable"})

    _tamper(export, failed, tip="", bundle_sha256="")
    with (job2 / ".forksync.toml").open("a") as fh:
        fh.write('[notify]\nslack-webhook-env = "SLACK_WEBHOOK_URL"\non = ["failed"]\n')
    with WebhookReceiver() as rx:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{rx.url}/services/T000/B000/good")
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        config, _ = load_config(job2, None)
        report = publish_export(job2, config, export, Progress(quiet=True), "")
        assert report.exit_code == 5 and report.status == "failed"
        assert len(rx.received) == 1 and "upstream unreachable" in json.dumps(rx.received[0][1])
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)


def test_an_unwritable_report_path_is_refused_before_anything_is_pushed(
    exported: tuple[Path, Path, Path], gh: GitHubStandIn
) -> None:
    export, job2, remote = exported
    env = {**os.environ, **ENV, "GITHUB_TOKEN": TOKEN}
    proc = subprocess.run(
        ["forksync", "publish", "--repo", str(job2), "--from", str(export), "--report", "/no/such/dir/r.json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 3 and "does not exist" in proc.stderr
    assert git(remote, "branch", "--list", BRANCH) == "" and not _open_pulls(gh)
