"""Slack and webhook notifications against a loopback receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from forksync.config import parse_config
from forksync.forges.http import RetryPolicy
from forksync.notify.base import Event, EventKind
from forksync.notify.registry import configured, make_notifiers, notify_all, problems
from forksync.notify.render import MERGE_ADVICE, SCHEMA, slack_message, webhook_payload
from forksync.notify.slack import SlackBotNotifier
from forksync.notify.webhook import NotifyError
from forksync.report import (
    CheckRecord,
    ConflictRecord,
    HunkRecord,
    LLMCallRecord,
    PullRequestRecord,
    ReleaseInfo,
    Report,
)
from tests.standins import closed_port_url
from tests.standins.webhook_receiver import WebhookReceiver, block_kit_errors

BOT = "xoxb-" + "1234567890-abcdefghij"
KINDS: tuple[EventKind, ...] = get_args(EventKind)


@pytest.fixture
def rx(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    for name in ("SLACK_HOOK", "SLACK_BOT", "EVENTS_URL", "FORKSYNC_SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    with WebhookReceiver({BOT}, {"#fork-sync"}) as server:
        yield server


def fast() -> RetryPolicy:
    return RetryPolicy(attempts=3, sleep=lambda s: None, jitter=lambda: 0.0)


ALL_ON = ["synced", "up-to-date", "conflicts", "failed", "checks-failed"]


def config(**notify: Any) -> Any:
    return parse_config({"notify": {"on": ALL_ON, **notify}}, "t")


def report(**kw: Any) -> Report:
    r = Report(
        run_id="run-1",
        started_at="2026-01-01T00:00:00Z",
        repo="/work/acme-fork",
        fork_branch="main",
        upstream_url="https://github.com/octo/up.git",
        status="synced",
        release=ReleaseInfo(
            "v1.2.0", "1.2.0", "c" * 40, url="https://github.com/octo/up/releases/tag/v1.2.0"
        ),
        conflicts=[
            ConflictRecord("a.py", "content", "resolved", "keep-fork", "fork owns it"),
            ConflictRecord("b.py", "content", "resolved", "take-upstream", "unchanged by the fork"),
            ConflictRecord(
                "c.py",
                "content",
                "resolved",
                "hunks",
                "",
                hunks=[HunkRecord(0, 1, 1, 1, "resolved", "llm", 0.95, "merged both", by_agent=True)],
            ),
            ConflictRecord("d.py", "content", "unresolved", "manual", "needs a person"),
        ],
        checks=[CheckRecord("unit", "pytest", 0, 1.0, passed=True), CheckRecord("lint", "ruff", 1, 1.0)],
        llm_calls=[LLMCallRecord("resolve", "anthropic", "m", 1000, 500, 0.42, 1.0)],
        pull_request=PullRequestRecord("https://github.com/acme/fork/pull/7", 7, "created"),
        reasons=["1 conflicted file left for review"],
    )
    for key, value in kw.items():
        setattr(r, key, value)
    return r


def texts(message: dict[str, Any]) -> str:
    """Every piece of text in a Block Kit message, one string."""
    return json.dumps(message, ensure_ascii=False)


def test_slack_webhook_pr_created(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    notifiers = configured(config(**{"slack-webhook-env": "SLACK_HOOK"}), retry=fast())
    records = notify_all(notifiers, Event("pr-created", report(), run_url="https://ci.example/runs/9"))
    assert [(r.channel, r.ok) for r in records] == [("slack-webhook", True)]
    [(_, message)] = rx.received
    assert block_kit_errors(message) == []
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header" and "v1.2.0" in blocks[0]["text"]["text"]
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "<https://github.com/acme/fork/pull/7|#7> (created)" in fields
    assert "<https://github.com/octo/up/releases/tag/v1.2.0|v1.2.0>" in fields
    assert "needs-review" in fields and "$0.42 (1,500 tokens)" in fields
    body = texts(message)
    assert "4 files: 2 resolved by rule · 1 by agent · 1 left" in body and "`d.py`" in body
    assert "1/2 passed; failed: `lint`" in body and MERGE_ADVICE in body
    assert "https://ci.example/runs/9" in body
    assert message["text"].startswith(":arrows_counterclockwise:")


def test_every_event_kind_has_its_own_message() -> None:
    messages = {
        kind: slack_message(Event(kind, report(error={"message": "push rejected"}))) for kind in KINDS
    }
    headers = {kind: m["blocks"][0]["text"]["text"] for kind, m in messages.items()}
    assert len(set(headers.values())) == len(KINDS)
    assert all(block_kit_errors(m) == [] for m in messages.values())
    assert "Conflicts" not in texts(messages["up-to-date"])  # up to date: nothing to review
    assert "push rejected" in texts(messages["failed"]) and "push rejected" not in texts(
        messages["pr-created"]
    )
    assert MERGE_ADVICE not in texts(messages["failed"])


def test_failed_message_carries_the_error_and_run_link(
    rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    r = report(
        status="failed", pull_request=None, error={"kind": "forge", "message": "GitHub refused POST (403)"}
    )
    notify_all(
        configured(config(**{"slack-webhook-env": "SLACK_HOOK"}), retry=fast()),
        Event("failed", r, run_url="https://ci.example/runs/10"),
    )
    [(_, message)] = rx.received
    assert "failed" in message["blocks"][0]["text"]["text"]
    assert "GitHub refused POST (403)" in texts(message)
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["url"] for e in actions["elements"]] == ["https://ci.example/runs/10"]


def test_slack_bot_posts_to_the_channel(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT", BOT)
    monkeypatch.setenv("FORKSYNC_SLACK_API_URL", f"{rx.url}/api")
    cfg = config(**{"slack-token-env": "SLACK_BOT", "slack-channel": "#fork-sync"})
    records = notify_all(configured(cfg, retry=fast()), Event("pr-updated", report()))
    assert [(r.channel, r.ok) for r in records] == [("slack-bot", True)]
    [call] = rx.calls("POST", "/api/chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {BOT}" and call.body["channel"] == "#fork-sync"
    assert "updated" in call.body["blocks"][0]["text"]["text"]


def test_slack_ok_false_is_a_failure(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    notifier = SlackBotNotifier(BOT, "#nowhere", api_url=f"{rx.url}/api", retry=fast())
    with pytest.raises(NotifyError, match=r"chat.postMessage failed: channel_not_found \(check \[notify\]"):
        notifier.send(Event("pr-created", report()))
    [record] = notify_all([notifier], Event("pr-created", report()))
    assert not record.ok and "channel_not_found" in record.error
    bad = SlackBotNotifier("xoxb-0000000000-wrongwrong", "#fork-sync", api_url=f"{rx.url}/api", retry=fast())
    [record] = notify_all([bad], Event("pr-created", report()))
    assert "invalid_auth" in record.error and "wrongwrong" not in record.error
    assert rx.received == []


def test_slack_webhook_refusal_is_recorded(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/revoked")
    [record] = notify_all(
        configured(config(**{"slack-webhook-env": "SLACK_HOOK"}), retry=fast()), Event("conflicts", report())
    )
    assert not record.ok and "404" in record.error and "no_service" in record.error
    assert "revoked" not in record.error  # the webhook URL is a credential


def test_slack_rate_limit_is_retried(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    rx.fail("POST", "/services/", 429, "rate_limited", {"retry-after": "2"})
    [notifier] = configured(config(**{"slack-webhook-env": "SLACK_HOOK"}), retry=fast())
    [record] = notify_all([notifier], Event("pr-created", report()))
    assert record.ok and len(rx.received) == 1
    assert notifier.client.retry.waits == [2.0]  # type: ignore[attr-defined]


def test_generic_webhook_payload_contract(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_URL", f"{rx.url}/hooks/forksync")
    notify_all(
        configured(config(**{"webhook-url-env": "EVENTS_URL"}), retry=fast()),
        Event("conflicts", report(status="conflicts-left"), run_url="https://ci.example/runs/3"),
    )
    [(path, payload)] = rx.received
    assert path == "/hooks/forksync"
    assert set(payload) == {
        "schema",
        "event",
        "status",
        "exit_code",
        "run_id",
        "run_url",
        "repo",
        "fork_branch",
        "upstream_url",
        "started_at",
        "finished_at",
        "release",
        "skipped_releases",
        "pull_request",
        "conflicts",
        "checks",
        "findings",
        "recommendation",
        "reasons",
        "cost",
        "error",
    }
    assert (
        payload["schema"] == SCHEMA
        and payload["event"] == "conflicts"
        and payload["status"] == "conflicts-left"
    )
    assert payload["conflicts"] == {
        "files": 4,
        "resolved_by_rule": 2,
        "resolved_by_agent": 1,
        "left": 1,
        "left_paths": ["d.py"],
    }
    assert payload["checks"] == {"total": 2, "passed": 1, "failed": ["lint"]}
    assert payload["cost"] == {"usd": 0.42, "tokens": 1500, "llm_calls": 1}
    assert payload["pull_request"] == {
        "url": "https://github.com/acme/fork/pull/7",
        "number": 7,
        "action": "created",
        "draft": False,
    }
    assert payload["release"]["tag"] == "v1.2.0" and payload["run_url"] == "https://ci.example/runs/3"


def test_webhook_down_is_recorded_not_raised(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_URL", closed_port_url() + "/hook")
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    cfg = config(**{"webhook-url-env": "EVENTS_URL", "slack-webhook-env": "SLACK_HOOK"})
    records = notify_all(configured(cfg, retry=fast()), Event("failed", report(status="failed")))
    by_channel = {r.channel: r for r in records}
    assert by_channel["slack-webhook"].ok  # one notifier down does not stop the others
    assert not by_channel["webhook"].ok and "failed after 3 tries" in by_channel["webhook"].error


def test_secrets_never_reach_a_payload(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-VALUE-8f3a9c2e71"
    shaped = "ghp_" + "C4n4ry" * 6
    monkeypatch.setenv("FORKSYNC_TEST_API_TOKEN", canary)
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    monkeypatch.setenv("EVENTS_URL", f"{rx.url}/hooks/x")
    r = report(
        status="failed",
        reasons=[f"token {canary} in a file"],
        error={"message": f"push to https://x:{shaped}@github.com failed"},
    )
    r.conflicts[3].path = f"secrets/{canary}.txt"
    cfg = config(**{"webhook-url-env": "EVENTS_URL", "slack-webhook-env": "SLACK_HOOK"})
    for kind in KINDS:
        notify_all(configured(cfg, retry=fast()), Event(kind, r, run_url=f"https://ci/{canary}"))
    raw = b"".join(req.raw for req in rx.requests)
    assert len(rx.received) == 2 * len(KINDS)
    assert canary.encode() not in raw and shaped.encode() not in raw and b"[REDACTED]" in raw


def test_on_filters_events(rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_URL", f"{rx.url}/hooks/x")
    notifiers = configured(
        config(**{"webhook-url-env": "EVENTS_URL", "on": ["failed", "synced"]}), retry=fast()
    )
    assert notify_all(notifiers, Event("up-to-date", report())) == []
    assert notify_all(notifiers, Event("conflicts", report())) == []
    assert [r.ok for r in notify_all(notifiers, Event("pr-updated", report()))] == [True]
    assert [p["event"] for _, p in rx.received] == ["pr-updated"]


def test_make_notifiers_reads_secrets_from_the_environment_only(
    rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(
        **{"slack-webhook-env": "SLACK_HOOK", "slack-token-env": "SLACK_BOT", "webhook-url-env": "EVENTS_URL"}
    )
    assert make_notifiers(cfg) == []
    assert len(problems(cfg)) == 4  # three unset variables, and no slack-channel for the bot
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    monkeypatch.setenv("EVENTS_URL", f"{rx.url}/hooks/x")
    assert [n.channel for n in make_notifiers(cfg)] == ["slack-webhook", "webhook"]


def test_huge_report_stays_within_block_kit_limits(
    rx: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_HOOK", f"{rx.url}/services/T000/B000/good")
    many = [
        ConflictRecord(f"src/{'deep/' * 40}file_{i}.py", "content", "unresolved", "manual", "x")
        for i in range(900)
    ]
    r = report(
        conflicts=many,
        reasons=["r" * 5000] * 30,
        error={"message": "e" * 20_000},
        checks=[CheckRecord(f"check-{i}-" + "n" * 300, "c", 1, 1.0) for i in range(40)],
    )
    r.repo = "/w/" + "long-name" * 40
    for kind in KINDS:
        [record] = notify_all(
            configured(config(**{"slack-webhook-env": "SLACK_HOOK"}), retry=fast()), Event(kind, r)
        )
        assert record.ok, (kind, record.error)
    assert len(rx.received) == len(KINDS)


def test_webhook_payload_is_json_serialisable_for_every_kind() -> None:
    for kind in KINDS:
        payload = webhook_payload(Event(kind, report(release=None, pull_request=None)))
        assert json.loads(json.dumps(payload))["event"] == kind and payload["release"] is None
