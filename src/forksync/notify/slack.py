"""Slack: an incoming webhook, or a bot token through ``chat.postMessage``.

Both post the same Block Kit message. The bot API answers HTTP 200 even when it refuses a
message (``{"ok": false, "error": "channel_not_found"}``), so the body decides success.
"""

from __future__ import annotations

import os
from typing import Any

from .. import secrets
from ..forges.http import Auth, HttpClient, RetryPolicy
from .base import Event, EventKind
from .render import slack_message
from .webhook import ALL_KINDS, NotifyError, notify_retry

SLACK_API = "https://slack.com/api"
_HINTS = {
    "invalid_auth": "the bot token is not valid",
    "not_authed": "no bot token was sent",
    "token_revoked": "the bot token was revoked",
    "channel_not_found": "check [notify] slack-channel",
    "not_in_channel": "invite the bot to the channel",
    "missing_scope": "the bot token needs the chat:write scope",
    "is_archived": "the channel is archived",
    "invalid_blocks": "Slack refused the message layout",
}


class SlackWebhookNotifier:
    channel = "slack-webhook"

    def __init__(
        self, url: str, *, retry: RetryPolicy | None = None, kinds: frozenset[EventKind] = ALL_KINDS
    ) -> None:
        secrets.register(url)
        self.url = url
        self.kinds = kinds
        self.client = HttpClient(
            url, service="Slack", retry=notify_retry(retry), timeout=15.0, error=NotifyError, secret_path=True
        )

    def send(self, event: Event) -> None:
        resp = self.client.request("POST", self.url, json=slack_message(event))
        text = resp.text.strip()
        if text and text != "ok":  # Slack answers a plain "ok"; anything else is a refusal
            raise NotifyError(f"Slack webhook answered {secrets.redact(text[:200])!r} instead of 'ok'")


class SlackBotNotifier:
    channel = "slack-bot"

    def __init__(
        self,
        token: str,
        channel_id: str,
        *,
        token_source: str = "the Slack bot token",
        api_url: str = "",
        retry: RetryPolicy | None = None,
        kinds: frozenset[EventKind] = ALL_KINDS,
    ) -> None:
        self.target = channel_id
        self.kinds = kinds
        # FORKSYNC_SLACK_API_URL points the bot at a proxy or a test stand-in.
        base = api_url or os.environ.get("FORKSYNC_SLACK_API_URL", "") or SLACK_API
        auth = Auth({"Authorization": f"Bearer {token}"}, token_source)
        self.client = HttpClient(
            base,
            service="Slack",
            auth=auth,
            retry=notify_retry(retry),
            timeout=15.0,
            error=NotifyError,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    def send(self, event: Event) -> None:
        message: dict[str, Any] = {**slack_message(event), "channel": self.target, "unfurl_links": False}
        data = self.client.json("POST", "chat.postMessage", json=message)
        if not isinstance(data, dict) or data.get("ok") is not True:
            error = str(data.get("error", "no 'ok' in the answer")) if isinstance(data, dict) else "not JSON"
            hint = _HINTS.get(error)
            raise NotifyError(
                secrets.redact(f"Slack chat.postMessage failed: {error}" + (f" ({hint})" if hint else ""))
            )
