"""Each fork's dashboard issue, kept up to date in place (like Renovate's Dependency Dashboard):
found by its label and the marker in its body, rewritten when its text changed, reopened if it
was closed, created only when none exists, so never duplicated. Forks are updated one after the
other (GitHub's secondary rate limits; the HTTP client honours retry-after), and a fork whose
update fails is one problem line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import ForksyncError
from ..forges.common import fit_body
from ..forges.github import BODY_LIMIT, GitHubForge, Issue
from ..secrets import redact
from .aggregate import ForkRow
from .model import Fleet, deep_merge
from .render import MARKER, dashboard_body

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Upserted:
    fork: str
    action: Action
    issue: Issue


def upsert(forge: GitHubForge, label: str, title: str, body: str) -> tuple[Action, Issue]:
    """Create or update the one dashboard issue of ``forge``'s repository."""
    mine = [i for i in forge.find_issues(label) if MARKER in i.body]
    if not mine:
        forge.ensure_labels([label])
        return "created", forge.create_issue(title, fit_body(body, BODY_LIMIT), [label])
    issue = mine[0]  # the oldest: any later copy (made by hand) is left alone
    wanted = fit_body(redact(body), BODY_LIMIT, "the full lists are in the fork's run report")
    changes: dict[str, str] = {}
    if issue.body.replace("\r\n", "\n").strip() != wanted.strip():
        changes["body"] = wanted
    if issue.title != title:
        changes["title"] = title
    if issue.state != "open":
        changes["state"] = "open"
    if not changes:
        return "unchanged", issue
    return "updated", forge.update_issue(issue.number, **changes)


def update_all(fleet: Fleet, rows: list[ForkRow]) -> tuple[list[Upserted], list[str]]:
    """Update the dashboard of every fork that ran this time; one line per failure."""
    from ..config import parse_config

    done: list[Upserted] = []
    problems: list[str] = []
    settings = fleet.settings
    forks = {f.name: f for f in fleet.forks}
    for row in rows:
        if not row.fresh or row.report is None:
            continue
        fork = forks[row.name]
        try:
            data = deep_merge(deep_merge(fleet.defaults, fork.entry), {"forge": {"repo": fork.repository}})
            config = parse_config(data, fork.name)
            if config.forge.kind != "github":
                continue
            forge = GitHubForge.from_config(config, Path("."))
            try:
                body = dashboard_body(row, settings.dashboard_title)
                action, issue = upsert(forge, settings.dashboard_label, settings.dashboard_title, body)
            finally:
                forge.client.close()
            done.append(Upserted(fork.name, action, issue))
        except ForksyncError as exc:
            problems.append(f"{fork.name}: dashboard issue not updated: {exc}")
    return done, problems
