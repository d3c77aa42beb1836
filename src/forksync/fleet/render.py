"""Markdown renderings of the fleet run: the job summary (one table for the fleet) and each
fork's dashboard issue body. Every value from a report is untrusted text: it is escaped (no
markup, links, mentions or table breaks of its own), and only plain http(s) URLs become links.
"""

from __future__ import annotations

import re

from ..report import Report
from .aggregate import ForkRow, safe_url

MARKER = "<!-- forksync:dashboard -->"
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def md(value: object, limit: int = 300) -> str:
    """One line of inert Markdown: punctuation escaped, @mentions broken, length capped."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _SPECIAL.sub(r"\\\1", text).replace("@", "@\u200b")


def link(text: str, url: str) -> str:
    return f"[{md(text)}]({url})" if safe_url(url) else md(text)


def _pr(row: ForkRow) -> str:
    pr = row.report.pull_request if row.report else None
    if pr is None:
        return "—"
    label = f"#{pr.number}" if isinstance(pr.number, int) else "pull request"
    return link(label, pr.url)


def _money(value: float) -> str:
    return f"${value:.2f}"


def _cost(report: Report | None) -> str:
    return _money(report.cost_usd) if report else "—"


def summary(rows: list[ForkRow], problems: list[str], title: str = "forksync fleet") -> str:
    """The job summary: counts, one row per fork, then every problem line."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    lines = [f"## {md(title)}", "", ", ".join(f"{md(k)}: {v}" for k, v in sorted(counts.items())), ""]
    lines += [
        "| fork | status | release | pull request | open conflicts | findings | cost | last run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row.report
        release = md(r.release.tag) if r and r.release else "—"
        lines.append(
            f"| {md(row.name)} | {md(row.status)} | {release} | {_pr(row)} | "
            f"{len(r.unresolved) if r else '—'} | {len(r.findings) if r else '—'} | {_cost(r)} | "
            f"{md(row.last_at) or '—'} |"
        )
    if problems:
        lines += ["", "### Problems", ""] + [f"- {md(p, 500)}" for p in problems]
    return "\n".join(lines) + "\n"


def dashboard_body(row: ForkRow, title: str) -> str:
    """The dashboard issue of one fork (found again by ``MARKER``; rewritten whole each run)."""
    r = row.report
    assert r is not None
    rel = r.release
    release = f"{md(rel.tag)} (fork was at {md(r.fork_version or 'unknown')})" if rel else "—"
    lines = [
        MARKER,
        f"## {md(title)}",
        "",
        "| | |",
        "|---|---|",
        f"| Status | {md(r.status)} ({md(r.recommendation)}) |",
        f"| Release synced | {release} |",
        f"| Pull request | {_pr(row)} |",
        f"| Open conflicts | {len(r.unresolved)} |",
        f"| Findings | {len(r.findings)} |",
        f"| Cost | {_cost(r)} this run, {_money(row.cost_month_usd)} this month |",
        f"| Last run | {md(r.finished_at or r.started_at)} |",
    ]
    if r.error:
        lines.append(f"| Error | {md(r.error.get('message', ''), 500)} |")
    if r.unresolved:
        lines += ["", "### Open conflicts", ""] + [
            f"- {md(c.path)} ({md(c.kind)})" for c in r.unresolved[:100]
        ]
    if r.findings:
        lines += ["", "### Findings", ""] + [f"- {md(f.kind)}: {md(f.message)}" for f in r.findings[:100]]
    if r.reasons:
        lines += ["", "### Why it needs review", ""] + [f"- {md(x)}" for x in r.reasons[:50]]
    if row.provenance:
        lines += ["", "### Configuration (where each key came from)", ""]
        lines += [f"- {md(k)}: {md(v)}" for k, v in row.provenance.items()]
    lines += ["", "_Kept up to date by `forksync fleet report`; edits to this issue are overwritten._", ""]
    return "\n".join(lines)
