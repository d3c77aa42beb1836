"""The terminal summary: a few lines for a person, rendered from the report."""

from __future__ import annotations

from ..report import Report


def render_summary(r: Report) -> str:
    lines = [f"status: {r.status} (exit {r.exit_code})"]
    if r.error:
        lines.append(f"error: {r.error.get('message', '')}")
    if r.release:
        lines.append(f"release: {r.release.tag}   fork version: {r.fork_version or 'unknown'}")
    if r.sync_branch:
        lines.append(f"sync branch: {r.sync_branch}")
    if r.merge_commit:
        lines.append(f"merge commit: {r.merge_commit} (parents: {' '.join(p[:10] for p in r.merge_parents)})")
    if r.conflicts:
        left = len(r.unresolved)
        lines.append(f"conflicts: {len(r.conflicts)} files, {len(r.conflicts) - left} resolved, {left} left")
    for c in r.checks:
        lines.append(f"check: {c.command}: {'passed' if c.passed else 'FAILED'} ({c.duration_s:.1f}s)")
    if r.findings:
        lines.append(f"verification findings: {len(r.findings)}")
    if r.llm_calls:
        lines.append(f"llm: {r.tokens} tokens, ${r.cost_usd:.4f}")
    if r.status not in ("up-to-date", "failed"):
        lines.append(f"recommendation: {r.recommendation} (labels: {', '.join(r.labels)})")
    if r.pull_request:
        lines.append(f"pull request ({r.pull_request.action}): {r.pull_request.url}")
    for w in r.warnings:
        lines.append(f"warning: {w}")
    if r.report_path:
        lines.append(f"report: {r.report_path}")
    return "\n".join(lines)
