"""Which notifiers a config enables, and delivery to all of them without ever failing the sync."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .. import secrets
from ..config import Config
from ..report import NotificationRecord
from .base import Event, EventKind, Notifier

if TYPE_CHECKING:
    from ..forges.http import RetryPolicy

# The notifiers (and the HTTP client they use, 60-80 ms to import) are loaded only when one is
# enabled: a sync that notifies nobody does not pay for them.

# `[notify] on` speaks of outcomes; events are finer ("synced" is a PR created or updated).
_ON: dict[str, tuple[EventKind, ...]] = {
    "synced": ("pr-created", "pr-updated"),
    "up-to-date": ("up-to-date",),
    "conflicts": ("conflicts",),
    "failed": ("failed",),
    "checks-failed": ("checks-failed",),
}


def kinds_for(config: Config) -> frozenset[EventKind]:
    return frozenset(kind for name in config.notify.on for kind in _ON.get(name, ()))


def configured(config: Config, retry: RetryPolicy | None = None) -> list[Notifier]:
    """The notifiers the config enables and whose URL or token is set in the environment.

    URLs and tokens come only from environment variables named in the config, never from the
    committed file itself.
    """
    notify = config.notify
    kinds = kinds_for(config)
    found: list[Notifier] = []
    url = os.environ.get(notify.slack_webhook_env, "") if notify.slack_webhook_env else ""
    if url:
        from .slack import SlackWebhookNotifier

        found.append(SlackWebhookNotifier(url, retry=retry, kinds=kinds))
    token = os.environ.get(notify.slack_token_env, "") if notify.slack_token_env else ""
    if token and notify.slack_channel:
        from .slack import SlackBotNotifier

        found.append(
            SlackBotNotifier(
                token, notify.slack_channel, token_source=notify.slack_token_env, retry=retry, kinds=kinds
            )
        )
    url = os.environ.get(notify.webhook_url_env, "") if notify.webhook_url_env else ""
    if url:
        from .webhook import WebhookNotifier

        found.append(WebhookNotifier(url, retry=retry, kinds=kinds))
    return found


def problems(config: Config) -> list[str]:
    """Why a configured notifier is not enabled (for a warning in the report)."""
    notify = config.notify
    out = []
    for key, env in (
        ("slack-webhook-env", notify.slack_webhook_env),
        ("slack-token-env", notify.slack_token_env),
        ("webhook-url-env", notify.webhook_url_env),
    ):
        if env and not os.environ.get(env):
            out.append(f"[notify] {key} names {env}, which is not set: no notification through it")
    if notify.slack_token_env and not notify.slack_channel:
        out.append("[notify] slack-token-env is set but slack-channel is not: no Slack bot message")
    return out


def notify_all(notifiers: Iterable[Notifier], event: Event) -> list[NotificationRecord]:
    """Send to every notifier that wants this kind of event; record, never raise."""
    records = []
    for notifier in notifiers:
        kinds = getattr(notifier, "kinds", None)
        if kinds is not None and event.kind not in kinds:
            continue  # a notifier without a `kinds` filter wants every event
        try:
            notifier.send(event)
        except Exception as exc:  # a notification must never fail the sync
            message = getattr(exc, "message", "") or f"{type(exc).__name__}: {exc}"
            records.append(
                NotificationRecord(notifier.channel, False, secrets.redact(" ".join(message.split())))
            )
        else:
            records.append(NotificationRecord(notifier.channel, True))
    return records


def make_notifiers(config: Config) -> list[Notifier]:
    """The notifiers the config enables and whose secrets are present in the environment."""
    return configured(config)
