"""Who may trigger a sync: enforced by forksync itself, not only by the workflow YAML.

Fails closed. Reads the GitHub Actions environment (GITHUB_EVENT_NAME, GITHUB_ACTOR,
GITHUB_REF_NAME, GITHUB_REPOSITORY and the event payload at GITHUB_EVENT_PATH):

- outside Actions (no GITHUB_ACTIONS, no event name) a person runs it: allowed;
- inside Actions, only the events in `[security] allowed-events` run (default: the
  repository's own `schedule` and `workflow_dispatch`); an event name forksync does not
  know is refused whatever the list says;
- a run tied to a pull request from another repository (a fork) is refused on every event,
  `issue_comment` on a pull request included (its payload cannot prove where the head lives,
  so it is treated as a fork's unless `allow-fork-prs = true`);
- a run whose payload names another repository than GITHUB_REPOSITORY is refused;
- then the actor, branch and label lists apply as configured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import KNOWN_EVENTS, SecurityConfig
from .errors import GateError
from .resolve.paths import matches

# Events whose trigger is a person's action (actor lists apply to them).
TRIGGERED = KNOWN_EVENTS - {"schedule"}
_WIDEN = "list it in [security] allowed-events (see README: Security)"


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path or not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def pr_from_fork(event_name: str, event: Mapping[str, Any], repository: str) -> bool:
    """Whether the run concerns a pull request whose head is not this repository."""
    pr = _dict(event.get("pull_request"))
    issue = _dict(event.get("issue"))
    if not pr and issue.get("pull_request"):
        return True  # a comment on a pull request: the payload has no head repository to check
    if not pr:
        return event_name.startswith("pull_request")  # a PR event without its PR: assume the worst
    head = _dict(_dict(pr.get("head")).get("repo"))
    base = _dict(_dict(pr.get("base")).get("repo"))
    if not head:
        return True  # the head repository was deleted, or the payload is incomplete
    own = str(base.get("full_name") or repository or "")
    return bool(head.get("fork")) or str(head.get("full_name", "")) != own


def check(security: SecurityConfig, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    event_name = env.get("GITHUB_EVENT_NAME", "")
    if not event_name:
        if env.get("GITHUB_ACTIONS", "").lower() == "true":
            raise GateError("running in GitHub Actions without GITHUB_EVENT_NAME", hint=_WIDEN)
        return  # a person running it by hand
    if event_name not in KNOWN_EVENTS:
        raise GateError(f"event '{event_name}' is not one forksync knows; refused")
    event = _event(env)
    repository = env.get("GITHUB_REPOSITORY", "")
    payload_repo = str(_dict(event.get("repository")).get("full_name", ""))
    if repository and payload_repo and payload_repo != repository:
        raise GateError(f"the event comes from '{payload_repo}', not '{repository}'")
    if pr_from_fork(event_name, event, repository) and not security.allow_fork_prs:
        raise GateError(
            "runs from forks' pull requests are not allowed",
            hint="set [security] allow-fork-prs = true only if you trust every fork",
        )
    if event_name not in security.allowed_events:
        raise GateError(f"event '{event_name}' may not trigger a sync", hint=_WIDEN)
    if event_name == "schedule":
        return
    actor = env.get("GITHUB_ACTOR", "")
    if event_name in TRIGGERED and security.allowed_actors and actor not in security.allowed_actors:
        raise GateError(
            f"{event_name} by '{actor}' is not allowed", hint="add the actor to [security] allowed-actors"
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
