"""The provider interface: one chat call with tools, in a provider-neutral shape.

The resolver and the fixer speak only this; each back end (Anthropic, OpenAI-compatible,
Claude Code) translates it to its API. Keeping the conversation neutral lets one audit
format and one budget serve every provider.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import AgentConfig
from ..errors import ConfigError, ForksyncError

DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4.1",
    "claude-code": "claude-sonnet-4-6",
}
DEFAULT_KEY_ENV = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "claude-code": "ANTHROPIC_API_KEY",
}
MAX_RETRIES = 3  # bounded: the SDKs back off exponentially and honour retry-after


class ProviderError(ForksyncError):
    """A model call failed for good (after the bounded retries). ``fatal``: no later call can
    succeed either (a rejected key), so the agent stops asking."""

    kind = "llm"

    def __init__(self, message: str, *, hint: str | None = None, fatal: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.fatal = fatal


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Message:
    """One turn. A user turn may carry tool results; an assistant turn may carry tool calls."""

    role: str  # "user" | "assistant"
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True)
class Request:
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    force_tool: str | None = None  # the tool the model must call (structured answers)
    max_output_tokens: int = 4096


@dataclass
class Completion:
    text: str
    tool_calls: list[ToolCall]
    input_tokens: int
    output_tokens: int
    stop_reason: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    cost_usd: float | None = None  # set when the back end reports its own cost (Claude Code)


class Provider(Protocol):
    name: str
    model: str

    def complete(self, request: Request) -> Completion: ...


def api_key(cfg: AgentConfig, provider: str) -> str:
    """The key from the environment only; a missing key is a configuration error (exit 3)."""
    env_name = cfg.api_key_env or DEFAULT_KEY_ENV.get(provider, "")
    value = os.environ.get(env_name, "") if env_name else ""
    if not value:
        if provider == "openai" and cfg.base_url:
            return "not-needed"  # local OpenAI-compatible servers (Ollama, vLLM) often take no key
        raise ConfigError(
            f"[agent] provider '{provider}' needs an API key in ${env_name}",
            hint=f"export {env_name}=… or set [agent] api-key-env",
        )
    return value


def one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def api_message(exc: Any) -> str:
    """The API's own error message from an SDK status error, not the SDK's wrapper text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return one_line(str(err["message"]))
    return one_line(str(getattr(exc, "message", exc)))


@contextmanager
def sdk_errors(sdk: Any, who: str, place: str, key_hint: str) -> Iterator[None]:
    """Turn an official SDK's errors (anthropic and openai share the class names) into one-line
    ProviderErrors; a rejected key is fatal, the rest leave the hunk for review."""
    try:
        yield
    except (sdk.AuthenticationError, sdk.PermissionDeniedError) as exc:
        raise ProviderError(
            f"{who} rejected the API key (HTTP {exc.status_code})", hint=key_hint, fatal=True
        ) from None
    except sdk.APITimeoutError:
        raise ProviderError(f"{who.split()[0]} call timed out (after {MAX_RETRIES} retries)") from None
    except sdk.APIConnectionError as exc:
        raise ProviderError(f"cannot reach the {place}: {one_line(str(exc))}") from None
    except sdk.APIStatusError as exc:
        raise ProviderError(
            f"{who.split()[0]} API error HTTP {exc.status_code}: {api_message(exc)}"
        ) from None
