"""Anthropic Messages API through the official SDK (imported on first use: it costs ~2 s)."""

from __future__ import annotations

from typing import Any

from .providers import (
    MAX_RETRIES,
    Completion,
    Message,
    Request,
    ToolCall,
    sdk_errors,
)


def _content(msg: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "tool_result", "tool_use_id": r.call_id, "content": r.content, "is_error": r.is_error}
        for r in msg.tool_results
    ]
    if msg.text:
        blocks.append({"type": "text", "text": msg.text})
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in msg.tool_calls]
    return blocks


def to_payload(model: str, request: Request) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_output_tokens,
        "system": request.system,
        "messages": [{"role": m.role, "content": _content(m)} for m in request.messages],
    }
    if request.tools:
        payload["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.schema} for t in request.tools
        ]
        payload["tool_choice"] = (
            {"type": "tool", "name": request.force_tool} if request.force_tool else {"type": "auto"}
        )
    return payload


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, model: str, key: str, base_url: str, timeout: float) -> None:
        import anthropic

        self.model = model
        self._sdk = anthropic
        self._client = anthropic.Anthropic(
            api_key=key, base_url=base_url or None, timeout=timeout, max_retries=MAX_RETRIES
        )

    def complete(self, request: Request) -> Completion:
        with sdk_errors(
            self._sdk, "anthropic", "anthropic API", "check ANTHROPIC_API_KEY or [agent] api-key-env"
        ):
            msg = self._client.messages.create(**to_payload(self.model, request))
        text = "".join(b.text for b in msg.content if b.type == "text")
        calls = [
            ToolCall(b.id, b.name, dict(b.input) if isinstance(b.input, dict) else {})
            for b in msg.content
            if b.type == "tool_use"
        ]
        usage = msg.usage
        tokens_in = (
            (usage.input_tokens or 0)
            + (getattr(usage, "cache_read_input_tokens", 0) or 0)
            + (getattr(usage, "cache_creation_input_tokens", 0) or 0)
        )
        return Completion(
            text,
            calls,
            tokens_in,
            usage.output_tokens or 0,
            str(msg.stop_reason or ""),
            raw=msg.model_dump(mode="json"),
        )
