"""The configured LLM provider, built on demand.

Kept apart from providers.py (the shared types) so that each provider module imports the types
and this module imports the providers: no import circle, and no SDK imported before it is needed.
"""

from __future__ import annotations

from ..config import AgentConfig
from .providers import DEFAULT_MODELS, Provider, api_key


def make_provider(cfg: AgentConfig) -> Provider | None:
    if cfg.provider == "none":
        return None
    model = cfg.model or DEFAULT_MODELS[cfg.provider]
    if cfg.provider == "anthropic":
        from .anthropic_provider import AnthropicProvider

        return AnthropicProvider(model, api_key(cfg, "anthropic"), cfg.base_url, cfg.timeout)
    if cfg.provider == "openai":
        from .openai_provider import OpenAIProvider

        return OpenAIProvider(model, api_key(cfg, "openai"), cfg.base_url, cfg.timeout)
    from .claude_code import ClaudeCodeProvider

    return ClaudeCodeProvider(model, cfg)
