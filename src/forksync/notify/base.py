"""The notifier interface and the event every notifier renders from the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ..report import Report

EventKind = Literal["up-to-date", "pr-created", "pr-updated", "conflicts", "checks-failed", "failed"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    report: Report
    run_url: str = ""  # the CI run's page, when known (GITHUB_SERVER_URL/…/actions/runs/ID)


class Notifier(Protocol):
    channel: str  # e.g. "slack-webhook", "slack-bot", "webhook"

    def send(self, event: Event) -> None:
        """Deliver the event; raise on failure (the caller records it and carries on)."""
        ...
