"""OpenAI Chat Completions through the official SDK: OpenAI, Azure, vLLM, Ollama, LM Studio."""

from __future__ import annotations

import json
from typing import Any

from .providers import MAX_RETRIES, Completion, Request, ToolCall, sdk_errors


def to_payload(model: str, request: Request, base_url: str = "") -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
    for m in request.messages:
        for r in m.tool_results:
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": r.call_id,
                    "content": ("ERROR: " if r.is_error else "") + r.content,
                }
            )
        if m.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": m.text or None}
            if m.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for c in m.tool_calls
                ]
            messages.append(entry)
        elif m.text:
            messages.append({"role": "user", "content": m.text})
    # OpenAI's own API (and Azure) want max_completion_tokens (reasoning models reject max_tokens);
    # compatible servers (vLLM, Ollama, LM Studio) know max_tokens.
    native = not base_url or "openai.com" in base_url or "azure" in base_url
    cap_key = "max_completion_tokens" if native else "max_tokens"
    payload: dict[str, Any] = {"model": model, "messages": messages, cap_key: request.max_output_tokens}
    if request.tools:
        payload["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.schema},
            }
            for t in request.tools
        ]
        payload["tool_choice"] = (
            {"type": "function", "function": {"name": request.force_tool}} if request.force_tool else "auto"
        )
    return payload


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"_invalid_json": text}
    return value if isinstance(value, dict) else {"_invalid_json": text}


class OpenAIProvider:
    name = "openai"

    def __init__(self, model: str, key: str, base_url: str, timeout: float) -> None:
        import openai

        self.model = model
        self._sdk = openai
        self._client = openai.OpenAI(
            api_key=key, base_url=base_url or None, timeout=timeout, max_retries=MAX_RETRIES
        )
        self.base_url = str(self._client.base_url)  # OPENAI_BASE_URL counts too

    def complete(self, request: Request) -> Completion:
        from .providers import ProviderError

        with sdk_errors(
            self._sdk, "openai endpoint", "openai endpoint", "check OPENAI_API_KEY or [agent] api-key-env"
        ):
            resp = self._client.chat.completions.create(**to_payload(self.model, request, self.base_url))
        if not resp.choices:
            raise ProviderError("openai endpoint returned no choices")
        choice = resp.choices[0]
        calls = [
            ToolCall(c.id, c.function.name, _arguments(c.function.arguments))
            for c in (choice.message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        usage = resp.usage
        return Completion(
            choice.message.content or "",
            calls,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            str(choice.finish_reason or ""),
            raw=resp.model_dump(mode="json"),
        )
