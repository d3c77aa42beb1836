"""Who may trigger a sync: enforced by forksync itself, not only by the workflow YAML.

Reads the GitHub Actions environment (GITHUB_EVENT_NAME, GITHUB_ACTOR, GITHUB_REF_NAME and
the event payload at GITHUB_EVENT_PATH). Scheduled runs always pass; manual and comment
triggers need an allowed actor when a list is configured; runs from forks' pull requests
are refused unless explicitly allowed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import SecurityConfig
from .errors import GateError
from .resolve.paths import matches

TRIGGERED = {
    "workflow_dispatch",
    "issue_comment",
    "repository_dispatch",
    "pull_request",
    "pull_request_target",
    "pull_request_review_comment",
    "push",
}


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path or not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check(security: SecurityConfig, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    event_name = env.get("GITHUB_EVENT_NAME", "")
    if not event_name or event_name == "schedule":
        return
    event = _event(env)
    actor = env.get("GITHUB_ACTOR", "")
    if event_name in TRIGGERED and security.allowed_actors and actor not in security.allowed_actors:
        raise GateError(
            f"{event_name} by '{actor}' is not allowed", hint="add the actor to [security] allowed-actors"
        )
    pr = event.get("pull_request") or ((event.get("issue") or {}).get("pull_request") and event.get("issue"))
    if isinstance(pr, dict) and event_name.startswith("pull_request"):
        head = (pr.get("head") or {}).get("repo") or {}
        base = (pr.get("base") or {}).get("repo") or {}
        from_fork = bool(head.get("fork")) or (
            head.get("full_name") and head.get("full_name") != base.get("full_name")
        )
        if from_fork and not security.allow_fork_prs:
            raise GateError(
                "runs from forks' pull requests are not allowed",
                hint="set [security] allow-fork-prs = true only if you trust every fork",
            )
    ref = env.get("GITHUB_REF_NAME", "")
    if security.allowed_branches and ref and not any(matches(g, ref) for g in security.allowed_branches):
        raise GateError(f"branch '{ref}' may not trigger a sync", hint="see [security] allowed-branches")
    if security.required_label:
        labels = []
        holder = event.get("pull_request") or event.get("issue") or {}
        if isinstance(holder, dict):
            labels = [str(lbl.get("name", "")) for lbl in holder.get("labels", []) if isinstance(lbl, dict)]
        if event_name != "workflow_dispatch" and security.required_label not in labels:
            raise GateError(f"the triggering item lacks the label '{security.required_label}'")
