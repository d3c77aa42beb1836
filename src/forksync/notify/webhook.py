"""The generic JSON webhook notifier: POSTs the stable payload of ``render.webhook_payload``."""

from __future__ import annotations

from typing import get_args

from .. import secrets
from ..errors import ForksyncError
from ..forges.http import HttpClient, RetryPolicy
from .base import Event, EventKind
from .render import webhook_payload

ALL_KINDS: frozenset[EventKind] = frozenset(get_args(EventKind))


class NotifyError(ForksyncError):
    """A notification could not be delivered; recorded in the report, never fatal to the sync."""

    kind = "notify"


def notify_retry(retry: RetryPolicy | None) -> RetryPolicy:
    """Notifications wait less than forge calls: a slow Slack must not hold up the run."""
    return retry or RetryPolicy(attempts=3, base=1.0, cap=10.0, max_wait=30.0)


class WebhookNotifier:
    channel = "webhook"

    def __init__(
        self, url: str, *, retry: RetryPolicy | None = None, kinds: frozenset[EventKind] = ALL_KINDS
    ) -> None:
        secrets.register(url)  # a webhook URL is a credential: whoever has it can post
        self.url = url
        self.kinds = kinds
        self.client = HttpClient(
            url,
            service="webhook",
            retry=notify_retry(retry),
            timeout=15.0,
            error=NotifyError,
            secret_path=True,
        )

    def send(self, event: Event) -> None:
        payload = webhook_payload(event)
        self.client.request("POST", self.url, json=payload)
