"""A whole sync against the GitHub REST stand-in and a Slack receiver, both on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from forksync.commands.sync import execute
from tests.gitutil import git
from tests.standins.github_api import GitHubStandIn
from tests.standins.webhook_receiver import WebhookReceiver

TOKEN = "ghp_" + "Integr4tion" * 3


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[GitHubStandIn, WebhookReceiver]]:
    for name in ("GITHUB_API_URL", "GITHUB_REPOSITORY", "FORKSYNC_SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with GitHubStandIn({TOKEN: "write"}) as gh, WebhookReceiver() as rx:
        repo = gh.add_repo("acme/tinyproxy")
        # The stand-in speaks REST, not git: the branch forksync pushes (to a local bare remote) is
        # announced to it as GitHub would know it after the push.
        repo.refs["upstream-sync/v1.1.0"] = "0" * 40
        monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{rx.url}/services/T000/B000/good")
        yield gh, rx


def _configure(fork: Path, gh: GitHubStandIn) -> None:
    text = (fork / ".forksync.toml").read_text()
    text = text.replace('kind = "local"', f'kind = "github"\nrepo = "acme/tinyproxy"\napi-url = "{gh.url}"')
    text += '[notify]\nslack-webhook-env = "SLACK_WEBHOOK_URL"\non = ["synced", "up-to-date", "conflicts", "failed"]\n'
    (fork / ".forksync.toml").write_text(text)
    git(fork, "commit", "-qam", "sync through GitHub")


def test_sync_opens_then_updates_one_pull_request_and_notifies_slack(
    demo: tuple[Path, Path, Path], servers: tuple[GitHubStandIn, WebhookReceiver]
) -> None:
    gh, rx = servers
    _, _, fork = demo
    _configure(fork, gh)

    first = execute(fork, None, quiet=True)
    assert first.error is None, first.error
    pulls = [p for p in gh.repos["acme/tinyproxy"].pulls.values() if p["state"] == "open"]
    assert len(pulls) == 1
    pull = pulls[0]
    assert pull["head"]["ref"] == "upstream-sync/v1.1.0" and pull["base"]["ref"] == "main"
    assert {lbl["name"] for lbl in pull["labels"]} == {"automated-sync", first.recommendation}
    assert "Create a merge commit" in pull["body"] and pull["title"] == first.pr_title
    assert first.pull_request is not None and first.pull_request.url == pull["html_url"]
    assert TOKEN not in json.dumps(first.to_dict())
    # Slack got one message about the new PR, with a link to it.
    assert len(rx.received) == 1 and pull["html_url"] in json.dumps(rx.received[0][1])
    assert first.notifications and first.notifications[0].ok

    second = execute(fork, None, release="v1.1.0", quiet=True)
    assert second.error is None, second.error
    open_now = [p for p in gh.repos["acme/tinyproxy"].pulls.values() if p["state"] == "open"]
    assert len(open_now) == 1 and open_now[0]["number"] == pull["number"]  # updated, never a duplicate
    assert second.pull_request is not None and second.pull_request.action in ("updated", "unchanged")
    assert len(rx.received) == 2


def test_slack_down_does_not_fail_the_sync(
    demo: tuple[Path, Path, Path],
    servers: tuple[GitHubStandIn, WebhookReceiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gh, rx = servers
    _, _, fork = demo
    _configure(fork, gh)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{rx.url}/services/T000/B000/revoked")
    report = execute(fork, None, quiet=True)
    assert report.error is None and report.pull_request is not None
    assert report.notifications and not report.notifications[0].ok and report.notifications[0].error


def test_forge_outage_is_a_forge_error(
    demo: tuple[Path, Path, Path],
    servers: tuple[GitHubStandIn, WebhookReceiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gh, _ = servers
    _, remote, fork = demo
    _configure(fork, gh)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "Wrong0000" * 4)
    report = execute(fork, None, quiet=True)
    assert report.status == "failed" and report.exit_code == 8
    assert report.error is not None and "GITHUB_TOKEN" in report.error["message"]
    # Found before anything was pushed (the precheck): nothing half-published.
    assert git(remote, "branch", "--list", "upstream-sync/*") == "" and report.merge_commit == ""
