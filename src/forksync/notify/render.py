"""Notification payloads rendered from the report: a Slack Block Kit message and a webhook JSON.

The generic webhook payload is a stable, versioned contract (``schema: forksync.event/1``);
fields are only ever added. Its keys:

- ``schema``, ``event`` (up-to-date | pr-created | pr-updated | conflicts | checks-failed | failed),
  ``status``, ``exit_code``, ``run_id``, ``run_url``, ``repo``, ``fork_branch``, ``upstream_url``,
  ``started_at``, ``finished_at``
- ``release``: ``{tag, version, commit, url}`` or null; ``skipped_releases``: list of tags
- ``pull_request``: ``{url, number, action, draft}`` or null
- ``conflicts``: ``{files, resolved_by_rule, resolved_by_agent, left, left_paths}`` (at most 50 paths)
- ``checks``: ``{total, passed, failed}`` (failed: the names of the failing checks)
- ``findings``, ``recommendation``, ``reasons``, ``cost``: ``{usd, tokens, llm_calls}``, ``error``

Every string goes through ``secrets.redact``: repository content and error texts can carry tokens.
Slack text is also made inert (``render.inert.slack``): no ``<!channel>``, ``@here`` or ``@name``
from a path, tag or reason can notify anyone, and no backtick in a path can end its code span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import secrets
from ..render import inert
from ..report import ConflictRecord, Report
from .base import Event

SCHEMA = "forksync.event/1"
MERGE_ADVICE = "Merge with a merge commit, never squash: squashing breaks the next sync."

_HEADLINES = {
    "up-to-date": ":white_check_mark: {name} is up to date with upstream {tag}",
    "pr-created": ":arrows_counterclockwise: {name}: sync pull request opened for upstream {tag}",
    "pr-updated": ":pencil2: {name}: sync pull request updated for upstream {tag}",
    "conflicts": ":warning: {name}: upstream {tag} has conflicts left for review",
    "checks-failed": ":x: {name}: checks failed on the sync of upstream {tag}",
    "failed": ":rotating_light: {name}: sync of upstream {tag} failed",
}


@dataclass(frozen=True)
class Figures:
    """The key figures every rendering shows."""

    files: int
    by_rule: int
    by_agent: int
    left: int
    checks_total: int
    checks_passed: int
    checks_failed: tuple[str, ...]


def by_agent(conflict: ConflictRecord) -> bool:
    return conflict.rule.startswith("agent") or any(h.by_agent for h in conflict.hunks)


def figures(report: Report) -> Figures:
    resolved = [c for c in report.conflicts if c.outcome == "resolved"]
    agent = sum(1 for c in resolved if by_agent(c))
    failed = tuple(c.name or c.command for c in report.checks if not c.passed)
    return Figures(
        len(report.conflicts),
        len(resolved) - agent,
        agent,
        len(report.unresolved),
        len(report.checks),
        len(report.checks) - len(failed),
        failed,
    )


def repo_name(report: Report) -> str:
    return report.repo.rstrip("/").rsplit("/", 1)[-1] or "fork"


def headline(event: Event) -> str:
    release = event.report.release
    tag = release.tag if release else "(unknown release)"
    return secrets.redact(_HEADLINES[event.kind].format(name=repo_name(event.report), tag=tag))


# -- Slack ---------------------------------------------------------------------------------
def _esc(text: str) -> str:
    return inert.slack(secrets.redact(text))


def _code(text: str) -> str:
    """Inline code in mrkdwn: a backtick inside would end it, so it becomes a look-alike."""
    return "`" + _esc(text).replace("`", "\u02cb").replace("\n", " ") + "`"


def _link(url: str, text: str) -> str:
    usable = url and not any(c in url for c in "<>| \n")
    return f"<{secrets.redact(url)}|{_esc(text)}>" if usable else _esc(text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}}


def slack_message(event: Event) -> dict[str, Any]:
    """A Block Kit message (with a plain ``text`` fallback for notifications and old clients)."""
    r = event.report
    title = headline(event)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, 150), "emoji": True}}
    ]
    f = figures(r)
    if event.kind != "up-to-date":
        fields = []
        if r.release:
            fields.append(f"*Release*\n{_link(r.release.url, r.release.tag)} ({_esc(r.release.version)})")
        if r.pull_request:
            pr = r.pull_request
            label = f"#{pr.number}" if pr.number is not None else "pull request"
            draft = ", draft" if pr.draft else ""
            fields.append(f"*Pull request*\n{_link(pr.url, label)} ({_esc(pr.action)}{draft})")
        if event.kind != "failed":
            fields.append(f"*Recommendation*\n{_esc(r.recommendation)}")
        if r.llm_calls:
            fields.append(f"*Cost*\n${r.cost_usd:.2f} ({r.tokens:,} tokens)")
        if fields:
            blocks.append(
                {"type": "section", "fields": [{"type": "mrkdwn", "text": _cut(x, 2000)} for x in fields]}
            )
        if f.files:
            text = f"*Conflicts* {f.files} files: {f.by_rule} resolved by rule · {f.by_agent} by agent · {f.left} left"
            left = [c.path for c in r.unresolved]
            if left:
                shown = "\n".join(inert.capped(left, 8, lambda p: f"• {_code(p)}", "…and {n} more"))
                text += f"\n{shown}"
            blocks.append(_section(text))
        if f.checks_total:
            text = f"*Checks* {f.checks_passed}/{f.checks_total} passed"
            if f.checks_failed:
                text += "; failed: " + ", ".join(inert.capped(f.checks_failed, 10, _code, "and {n} more"))
            blocks.append(_section(text))
        if r.reasons and event.kind != "failed":
            reasons = inert.capped(r.reasons, 6, lambda x: f"• {_esc(x)}", "…and {n} more")
            blocks.append(_section("*Why review*\n" + "\n".join(reasons)))
        if event.kind == "failed":
            error = (r.error or {}).get("message") or "unknown error"
            blocks.append(_section(f"*Error*\n```{_esc(error).replace('`', chr(0x2CB))}```"))
    buttons = []
    if r.pull_request and r.pull_request.url.startswith("http"):
        buttons.append(_button("Open pull request", r.pull_request.url, "pr"))
    if event.run_url:
        buttons.append(_button("View run", event.run_url, "run"))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    context = [f"fork branch {_code(r.fork_branch)}"]
    if r.skipped_releases:
        context.append(f"{len(r.skipped_releases)} releases skipped over")
    if event.kind in ("pr-created", "pr-updated", "conflicts", "checks-failed"):
        context.append(MERGE_ADVICE)
    if event.run_url:
        context.append(_link(event.run_url, "run log"))
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(" · ".join(context), 3000)}]}
    )
    return {"text": _fallback(event, f), "blocks": blocks}


def _button(text: str, url: str, action: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "url": secrets.redact(url),
        "action_id": f"forksync-{action}",
    }


def _fallback(event: Event, f: Figures) -> str:
    parts = [inert.slack(headline(event))]
    r = event.report
    if r.pull_request:
        parts.append(secrets.redact(r.pull_request.url))
    if f.files:
        parts.append(f"conflicts: {f.by_rule} by rule, {f.by_agent} by agent, {f.left} left")
    if event.kind == "failed" and r.error:
        parts.append(_esc(r.error.get("message", "")))
    if event.run_url:
        parts.append(secrets.redact(event.run_url))
    return _cut(" | ".join(parts), 3000)


# -- generic webhook -----------------------------------------------------------------------
def webhook_payload(event: Event) -> dict[str, Any]:
    r = event.report
    f = figures(r)
    release = r.release
    pr = r.pull_request
    payload: dict[str, Any] = {
        "schema": SCHEMA,
        "event": event.kind,
        "status": r.status,
        "exit_code": r.exit_code,
        "run_id": r.run_id,
        "run_url": event.run_url,
        "repo": r.repo,
        "fork_branch": r.fork_branch,
        "upstream_url": r.upstream_url,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "release": {
            "tag": release.tag,
            "version": release.version,
            "commit": release.commit,
            "url": release.url,
        }
        if release
        else None,
        "skipped_releases": [x.tag for x in r.skipped_releases],
        "pull_request": {"url": pr.url, "number": pr.number, "action": pr.action, "draft": pr.draft}
        if pr
        else None,
        "conflicts": {
            "files": f.files,
            "resolved_by_rule": f.by_rule,
            "resolved_by_agent": f.by_agent,
            "left": f.left,
            "left_paths": [c.path for c in r.unresolved][:50],
        },
        "checks": {"total": f.checks_total, "passed": f.checks_passed, "failed": list(f.checks_failed)},
        "findings": len(r.findings),
        "recommendation": r.recommendation,
        "reasons": list(r.reasons),
        "cost": {"usd": r.cost_usd, "tokens": r.tokens, "llm_calls": len(r.llm_calls)},
        "error": dict(r.error) if r.error else None,
    }
    redacted: dict[str, Any] = _redact(payload)
    return redacted


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return secrets.redact(value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value
