"""The outward half of a sync: push the sync branch, open or update its pull request, notify.

Shared by the single-process `forksync sync` and by `forksync publish`, the privileged job of
the split workflow, which pushes a branch that an unprivileged job built. Nothing here runs
repository code; pushes are never forced.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from . import secrets
from .config import Config
from .errors import ForgeError, GitError
from .git import Git
from .notify.base import EventKind
from .report import PullRequestRecord, Report
from .ui import Progress


def token_push_env(remote_url: str) -> dict[str, str]:
    """Git environment that authenticates an HTTPS push with the forge token, as actions/checkout
    does, but through the environment: the token is never in argv nor written to .git/config (so
    the checkout can use `persist-credentials: false`). Empty without a token or for other URLs."""
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
    if not token or not re.match(r"^https://[^/@\s]+/", remote_url):
        return {}
    secrets.register(token)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    secrets.register(basic)
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{remote_url}.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def push_branch(
    git: Git, remote: str, branch: str, source: str, progress: Progress, env: dict[str, str] | None = None
) -> None:
    """Push ``source`` to ``remote``'s ``branch``; a rejection (someone else's commits) is a
    ForgeError and never answered by forcing."""
    if git.run("remote", "get-url", "--", remote, check=False).returncode != 0:
        raise GitError(f"no remote '{remote}' to push {branch} to", hint="add it, or run with --no-push")
    progress.stage("push", f"pushing {branch} to {remote}")
    pusher = Git(git.cwd, env=env) if env else git
    res = pusher.remote(
        "push", "--quiet", "--porcelain", remote, f"{source}:refs/heads/{branch}", timeout=1800
    )
    if res.returncode != 0:
        text = (res.err + res.out).lower()
        if "rejected" in text or "non-fast-forward" in text or "fetch first" in text:
            raise ForgeError(
                f"{remote}/{branch} has commits this run does not have",
                hint="someone else pushed to the sync branch; forksync never force-pushes",
            )
        raise ForgeError(f"cannot push {branch} to {remote}: {res.err.splitlines()[-1] if res.err else ''}")


def open_pull_request(config: Config, repo: Path, report: Report, version: str, progress: Progress) -> None:
    """Open the sync PR or update the open one; record it (and the forge's warnings) in the report."""
    from .forges import make_forge
    from .forges.base import PullRequestSpec

    r = report
    cfg = config.forge
    forge = make_forge(config, repo)
    draft = cfg.draft or bool(r.unresolved)
    spec = PullRequestSpec(
        title=r.pr_title,
        body=r.pr_body,
        head=r.sync_branch,
        base=cfg.base or config.fork.branch,
        labels=tuple(r.labels),
        draft=draft,
        reviewers=tuple(cfg.reviewers),
        team_reviewers=tuple(cfg.team_reviewers),
        assignees=tuple(cfg.assignees),
        sync_label=cfg.label_sync,
        version=version,
        comment=f"forksync re-ran this sync ({r.run_id}): recommendation `{r.recommendation}`.",
    )
    result = forge.publish(spec)
    r.warnings.extend(result.warnings)
    pr = result.pull_request
    r.pull_request = PullRequestRecord(
        pr.url, pr.number, result.action, draft, pr.title, [p.url for p in result.superseded]
    )
    progress.stage("pr", f"pull request {result.action}: {pr.url}")


def event_kind(report: Report) -> EventKind:
    """What a notification says about this run."""
    status = report.status
    if status == "up-to-date" or status == "failed" or status == "checks-failed":
        return status
    if status == "conflicts-left":
        return "conflicts"
    if report.pull_request and report.pull_request.action in ("updated", "unchanged"):
        return "pr-updated"
    return "pr-created"


def notify_report(config: Config, report: Report, run_url: str) -> None:
    """Tell Slack / webhooks about the run; a failed notification is recorded, never raised."""
    from .notify.base import Event, make_notifiers
    from .notify.registry import notify_all, problems

    report.warnings.extend(problems(config))
    notifiers = make_notifiers(config)
    if notifiers:
        report.notifications.extend(notify_all(notifiers, Event(event_kind(report), report, run_url)))
