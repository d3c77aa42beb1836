"""One place where every model call goes: redact, budget, call, charge, audit, record."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

from ..report import LLMCallRecord
from ..secrets import redact
from .audit import Auditor, redact_tree
from .budget import Budget, estimate_tokens
from .providers import Completion, Message, Provider, ProviderError, Request, ToolCall, ToolResult


def redact_request(request: Request) -> Request:
    """Defence in depth: prompts are built from redacted text, and redacted once more here."""

    def msg(m: Message) -> Message:
        return Message(
            m.role,
            redact(m.text),
            tuple(ToolCall(c.id, c.name, redact_tree(c.arguments)) for c in m.tool_calls),
            tuple(ToolResult(r.call_id, redact(r.content), r.is_error) for r in m.tool_results),
        )

    return dataclasses.replace(
        request, system=redact(request.system), messages=tuple(msg(m) for m in request.messages)
    )


class Session:
    def __init__(self, provider: Provider, budget: Budget, auditor: Auditor) -> None:
        self.provider = provider
        self.budget = budget
        self.auditor = auditor
        self.calls: list[LLMCallRecord] = []

    def call(
        self, purpose: str, request: Request, run: Callable[[Request], Completion] | None = None
    ) -> Completion:
        """Raises BudgetExceeded before a call it cannot afford, ProviderError after a failed one."""
        request = redact_request(request)
        payload = dataclasses.asdict(request)
        model = self.provider.model
        estimate = estimate_tokens(json.dumps(payload))
        cap = self.budget.allow(model, estimate, request.max_output_tokens)
        request = dataclasses.replace(request, max_output_tokens=cap)
        payload["max_output_tokens"] = cap
        payload["estimated_input_tokens"] = estimate
        started = time.monotonic()
        try:
            answer = (run or self.provider.complete)(request)
        except ProviderError as exc:
            duration = time.monotonic() - started
            path = self.auditor.save(
                purpose,
                {
                    "purpose": purpose,
                    "provider": self.provider.name,
                    "model": model,
                    "request": payload,
                    "error": str(exc),
                },
            )
            self.calls.append(
                LLMCallRecord(
                    purpose,
                    self.provider.name,
                    model,
                    0,
                    0,
                    0.0,
                    round(duration, 3),
                    ok=False,
                    artifact=str(path),
                )
            )
            raise
        duration = time.monotonic() - started
        cost = self.budget.charge(model, answer.input_tokens, answer.output_tokens)
        if answer.cost_usd is not None:  # the back end knows better (Claude Code reports its own)
            self.budget.cost_usd = round(self.budget.cost_usd - cost + answer.cost_usd, 6)
            cost = answer.cost_usd
        path = self.auditor.save(
            purpose,
            {
                "purpose": purpose,
                "provider": self.provider.name,
                "model": model,
                "request": payload,
                "response": {
                    "text": answer.text,
                    "tool_calls": [dataclasses.asdict(c) for c in answer.tool_calls],
                    "stop_reason": answer.stop_reason,
                    "raw": answer.raw,
                },
                "usage": {
                    "input_tokens": answer.input_tokens,
                    "output_tokens": answer.output_tokens,
                    "cost_usd": cost,
                    "duration_s": round(duration, 3),
                },
            },
        )
        self.calls.append(
            LLMCallRecord(
                purpose,
                self.provider.name,
                model,
                answer.input_tokens,
                answer.output_tokens,
                cost,
                round(duration, 3),
                ok=True,
                artifact=str(path),
            )
        )
        return answer
