"""A receiver for Slack (incoming webhooks and ``chat.postMessage``) and generic JSON webhooks.

It records every payload and enforces what Slack enforces on Block Kit (block count, text
lengths, field counts), answering the way Slack does: a plain ``ok`` for webhooks, 4xx with
a short error text for refused ones, and HTTP 200 ``{"ok": false, "error": …}`` from the API.
"""

from __future__ import annotations

from typing import Any

from . import Reply, Request, StandIn


def block_kit_errors(message: Any) -> list[str]:
    """Violations of Slack's documented Block Kit limits."""
    if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
        return ["no text or blocks"]
    blocks = message.get("blocks") or []
    errors = []
    if len(blocks) > 50:
        errors.append("more than 50 blocks")
    for block in blocks:
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if kind == "header" and (len(text) > 150 or block["text"].get("type") != "plain_text"):
            errors.append("header text over 150 characters or not plain_text")
        if kind == "section":
            if len(text) > 3000:
                errors.append("section text over 3000 characters")
            fields = block.get("fields") or []
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                errors.append("section fields over the limits")
            if not text and not fields:
                errors.append("empty section")
        if kind == "actions" and not 1 <= len(block.get("elements") or []) <= 25:
            errors.append("actions block with 0 or over 25 elements")
        if kind not in ("header", "section", "actions", "context", "divider"):
            errors.append(f"unknown block type {kind}")
    return errors


class WebhookReceiver(StandIn):
    def __init__(self, bot_tokens: set[str] | None = None, channels: set[str] | None = None) -> None:
        super().__init__()
        self.bot_tokens = set(bot_tokens or ())
        self.channels = set(channels or ())
        self.hooks = {"T000/B000/good"}  # Slack incoming webhooks that exist
        self.received: list[tuple[str, Any]] = []
        self.route("POST", "/services/(?P<hook>.+)", self.slack_webhook)
        self.route("POST", "/api/chat.postMessage", self.post_message)
        self.route("POST", "/hooks/(?P<name>.+)", self.generic)

    def slack_webhook(self, req: Request, hook: str) -> Reply:
        if hook not in self.hooks:
            return Reply(404, "no_service")
        errors = block_kit_errors(req.body)
        if errors:
            return Reply(400, "invalid_blocks")
        self.received.append((req.path, req.body))
        return Reply(200, "ok")

    def post_message(self, req: Request) -> Reply:
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.bot_tokens:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        body = req.body or {}
        if body.get("channel") not in self.channels:
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        if block_kit_errors(body):
            return Reply(200, {"ok": False, "error": "invalid_blocks"})
        self.received.append((req.path, body))
        return Reply(
            200,
            {
                "ok": True,
                "channel": "C0123",
                "ts": "1700000000.000100",
                "message": {"text": body.get("text")},
            },
        )

    def generic(self, req: Request, name: str) -> Reply:
        self.received.append((req.path, req.body))
        return Reply(200, {"received": True})
