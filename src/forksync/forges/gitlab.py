"""GitLab (gitlab.com or self-hosted) through the REST v4 API: the sync merge request's lifecycle.

The same lifecycle as the GitHub forge, in GitLab's terms: merge requests by ``iid``, labels
as strings (created with colours when missing), draft as a "Draft: " title prefix, reviewers
and assignees by user id, notes for comments. It uses the same small HTTP client as the
GitHub forge rather than python-gitlab, so retries, rate limits and errors behave alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .. import secrets
from ..config import Config
from ..errors import ConfigError, ForgeError, GitError, UpstreamError
from ..git import Git, check_ref_name
from .base import ForgeRelease, PublishResult, PullRequest, PullRequestSpec
from .common import fit_body, label_colour, repo_path
from .http import NO_AUTH, Auth, HttpClient, RetryPolicy
from .lifecycle import settle_older
from .urls import compare_url

DEFAULT_API = "https://gitlab.com/api/v4"
BODY_LIMIT = 1_000_000  # GitLab's limit on a merge request description
DRAFT = "Draft: "
_PROJECT = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


def _remote_url(config: Config, repo: Path) -> str:
    try:
        return Git(repo).out("remote", "get-url", "--", config.fork.remote)
    except GitError:
        return ""


def _api_url(config: Config, remote_url: str = "") -> str:
    explicit = config.forge.api_url or os.environ.get("CI_API_V4_URL", "")
    if explicit:
        return explicit.rstrip("/")
    parsed = repo_path(remote_url) if remote_url else None
    return f"https://{parsed[0]}/api/v4" if parsed and parsed[0] != "gitlab.com" else DEFAULT_API


def is_gitlab_host(config: Config, host: str) -> bool:
    """Whether an upstream on ``host`` is served by GitLab (by name, or the configured GitLab)."""
    if "gitlab" in host:
        return True
    return config.forge.kind == "gitlab" and httpx.URL(_api_url(config)).host == host


def gitlab_auth(config: Config) -> Auth | None:
    """Token order: ``[forge] token-env``, GITLAB_TOKEN (PRIVATE-TOKEN), CI_JOB_TOKEN (JOB-TOKEN)."""
    name = config.forge.token_env
    if name:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"[forge] token-env names {name}, which is not set in the environment")
        return Auth({"PRIVATE-TOKEN": value}, name)
    if os.environ.get("GITLAB_TOKEN"):
        return Auth({"PRIVATE-TOKEN": os.environ["GITLAB_TOKEN"]}, "GITLAB_TOKEN")
    if os.environ.get("CI_JOB_TOKEN"):
        return Auth({"JOB-TOKEN": os.environ["CI_JOB_TOKEN"]}, "CI_JOB_TOKEN")
    return None


class GitLabForge:
    name = "gitlab"

    def __init__(
        self,
        client: HttpClient,
        project: str,
        *,
        supersede: bool = True,
        managed_labels: Iterable[str] = (),
        colours: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.project = project
        self.base = f"projects/{quote(project, safe='')}"
        self.supersede = supersede
        self.managed_labels = frozenset(managed_labels)
        self.colours = colours or {}
        self._user_ids: dict[str, int | None] = {}

    @classmethod
    def from_config(cls, config: Config, repo: Path, retry: RetryPolicy | None = None) -> GitLabForge:
        remote = ""
        project = config.forge.repo or os.environ.get("CI_PROJECT_PATH", "")
        if not project or not (config.forge.api_url or os.environ.get("CI_API_V4_URL")):
            remote = _remote_url(config, repo)
        if not project:
            parsed = repo_path(remote) if remote else None
            project = parsed[1] if parsed else ""
        if not _PROJECT.match(project):
            raise ConfigError(
                f"cannot tell the GitLab project (got {project!r})",
                hint='set [forge] repo = "group/project" or CI_PROJECT_PATH',
            )
        auth = gitlab_auth(config)
        if auth is None:
            raise ConfigError("no GitLab token: set GITLAB_TOKEN or CI_JOB_TOKEN, or [forge] token-env")
        client = HttpClient(_api_url(config, remote), service="GitLab", auth=auth, retry=retry)
        forge = config.forge
        managed = [forge.label_sync, forge.label_ready, forge.label_review, *forge.extra_labels]
        return cls(
            client,
            project,
            supersede=forge.on_newer_release == "supersede",
            managed_labels=managed,
            colours={label: label_colour(label, config) for label in managed},
        )

    # -- reading ---------------------------------------------------------------------------
    def _open_mrs(self) -> list[dict[str, Any]]:
        found = self.client.paginate(f"{self.base}/merge_requests", {"state": "opened"}, scope="api")
        return [m for m in found if isinstance(m, dict)]

    def find_open_sync_prs(self, label: str) -> list[PullRequest]:
        return [_mr(m) for m in self._open_mrs() if label in _labels(m)]

    def pull_request_for(self, head: str) -> PullRequest | None:
        check_ref_name(head, "branch")
        found = self.client.paginate(
            f"{self.base}/merge_requests", {"state": "all", "source_branch": head}, scope="api"
        )
        mrs = [m for m in found if isinstance(m, dict) and m.get("source_branch") == head]
        if not mrs:
            return None
        open_ = [m for m in mrs if m.get("state") == "opened"]
        return _mr(open_[0] if open_ else max(mrs, key=lambda m: int(m["iid"])))

    def releases(self) -> list[ForgeRelease]:
        return [_release(r) for r in self.client.paginate(f"{self.base}/releases") if isinstance(r, dict)]

    def branch_head(self, branch: str) -> str | None:
        check_ref_name(branch, "branch")
        resp = self.client.request(
            "GET", f"{self.base}/repository/branches/{quote(branch, safe='')}", allow=(404,)
        )
        if resp.status_code == 404:
            return None
        commit = resp.json().get("commit") if isinstance(resp.json(), dict) else None
        sha = commit.get("id") if isinstance(commit, dict) else None
        return sha if isinstance(sha, str) else None

    def compare_url(self, upstream_url: str, old: str, new: str) -> str:
        return compare_url(upstream_url, old, new)

    # -- writing ---------------------------------------------------------------------------
    def comment(self, iid: int, body: str) -> None:
        self.client.request(
            "POST",
            f"{self.base}/merge_requests/{iid}/notes",
            json={"body": secrets.redact(body)},
            scope="api",
        )

    def ensure_labels(self, names: Iterable[str]) -> list[str]:
        have = {str(x.get("name", "")).lower() for x in self.client.paginate(f"{self.base}/labels")}
        created = []
        for name in dict.fromkeys(names):
            if name.lower() in have:
                continue
            resp = self.client.request(
                "POST",
                f"{self.base}/labels",
                allow=(409,),
                scope="api",
                json={
                    "name": name,
                    "color": "#" + self.colours.get(name, "c5def5"),
                    "description": "forksync",
                },
            )
            if resp.status_code != 409:
                created.append(name)
        return created

    def user_id(self, username: str) -> int | None:
        if username not in self._user_ids:
            found = self.client.json("GET", "users", params={"username": username})
            first = found[0] if isinstance(found, list) and found else {}
            uid = first.get("id") if isinstance(first, dict) else None
            self._user_ids[username] = uid if isinstance(uid, int) else None
        return self._user_ids[username]

    def _user_ids_for(self, names: Iterable[str], what: str, warnings: list[str]) -> list[int]:
        ids = []
        for name in names:
            uid = self.user_id(name)
            if uid is None:
                warnings.append(f"GitLab has no user {name!r} to add as {what}")
            else:
                ids.append(uid)
        return ids

    def publish(self, spec: PullRequestSpec) -> PublishResult:
        check_ref_name(spec.head, "branch")
        labels = list(dict.fromkeys([spec.sync_label, *spec.labels]))
        self.ensure_labels(labels)
        body = fit_body(secrets.redact(spec.body), BODY_LIMIT)
        title = secrets.redact(spec.title)
        mrs = self._open_mrs()
        mine = next((m for m in mrs if m.get("source_branch") == spec.head), None)
        synced = [m for m in mrs if m is not mine and spec.sync_label in _labels(m)]
        heads = {m.get("source_branch") for m in synced}  # same production branch, or stacked on one
        older = sorted(
            (m for m in synced if m.get("target_branch") in (spec.base, *heads)), key=lambda m: m["iid"]
        )
        warnings: list[str] = []
        stacked_on = None
        if mine is not None:
            iid = int(mine["iid"])
            action = self._update(mine, (DRAFT if spec.draft else "") + title, body, labels, spec.comment)
        else:
            target = spec.base
            if not self.supersede and older:
                stacked_on = _mr(older[-1])
                target = stacked_on.head
            if spec.team_reviewers:
                warnings.append("GitLab has no team reviewers; team-reviewers ignored")
            payload = {
                "source_branch": spec.head,
                "target_branch": target,
                "title": (DRAFT if spec.draft else "") + title,
                "description": body,
                "labels": ",".join(labels),
                "remove_source_branch": False,
                "assignee_ids": self._user_ids_for(spec.assignees, "assignee", warnings),
                "reviewer_ids": self._user_ids_for(spec.reviewers, "reviewer", warnings),
            }
            iid = int(
                self.client.json("POST", f"{self.base}/merge_requests", json=payload, scope="api")["iid"]
            )
            action = "created"
        mr = _mr(self.client.json("GET", f"{self.base}/merge_requests/{iid}"))
        superseded = settle_older(
            spec,
            mr,
            [int(old["iid"]) for old in older],
            stacked_on,
            supersede=self.supersede,
            comment=self.comment,
            close=self._close,
            sign="!",
            noun="merge request",
        )
        return PublishResult(mr, action, superseded, stacked_on, warnings)

    def _close(self, iid: int) -> PullRequest:
        closed = self.client.json(
            "PUT", f"{self.base}/merge_requests/{iid}", json={"state_event": "close"}, scope="api"
        )
        return _mr(closed)

    def _update(self, mr: dict[str, Any], title: str, body: str, labels: list[str], comment: str) -> str:
        iid = int(mr["iid"])
        # The draft state follows the run's verdict (a "Draft: " title while conflicts are open).
        changes: dict[str, Any] = {}
        if mr.get("title") != title:
            changes["title"] = title
        if (mr.get("description") or "") != body:
            changes["description"] = body
        current = _labels(mr)
        remove = [name for name in current if name in self.managed_labels and name not in labels]
        add = [name for name in labels if name not in current]
        if add:
            changes["add_labels"] = ",".join(add)
        if remove:
            changes["remove_labels"] = ",".join(remove)
        if changes:
            self.client.request("PUT", f"{self.base}/merge_requests/{iid}", json=changes, scope="api")
        if comment:
            self.comment(iid, comment)
        return "updated" if changes or comment else "unchanged"


# -- shapes --------------------------------------------------------------------------------
def _labels(mr: dict[str, Any]) -> list[str]:
    return [str(x if isinstance(x, str) else x.get("name")) for x in mr.get("labels") or []]


def _is_draft(mr: dict[str, Any]) -> bool:
    return bool(mr.get("draft") or mr.get("work_in_progress") or str(mr.get("title", "")).startswith(DRAFT))


def _mr(data: Any) -> PullRequest:
    if not isinstance(data, dict) or "iid" not in data:
        raise ForgeError("GitLab answered with something that is not a merge request")
    state = {"opened": "open", "locked": "open"}.get(str(data.get("state")), str(data.get("state", "open")))
    return PullRequest(
        number=int(data["iid"]),
        url=str(data.get("web_url", "")),
        head=str(data.get("source_branch", "")),
        base=str(data.get("target_branch", "")),
        title=str(data.get("title", "")),
        state=state,
        draft=_is_draft(data),
        labels=tuple(_labels(data)),
    )


def _release(data: dict[str, Any]) -> ForgeRelease:
    links = data.get("_links") or {}
    return ForgeRelease(
        tag=str(data.get("tag_name", "")),
        name=str(data.get("name") or ""),
        body=str(data.get("description") or ""),
        draft=False,
        prerelease=bool(data.get("upcoming_release")),
        url=str(links.get("self", "") if isinstance(links, dict) else ""),
        published_at=str(data.get("released_at") or ""),
    )


def upstream_releases(
    config: Config, upstream_url: str, retry: RetryPolicy | None = None
) -> list[ForgeRelease]:
    """Releases of an upstream project on GitLab, newest first (upcoming ones flagged prerelease)."""
    parsed = repo_path(upstream_url)
    if parsed is None:
        raise UpstreamError(f"cannot tell the upstream project from {upstream_url!r}")
    host, path = parsed
    fork_api = _api_url(config)
    if config.forge.kind == "gitlab" and httpx.URL(fork_api).host == host:
        api, auth = fork_api, gitlab_auth(config) or NO_AUTH
    else:
        api, auth = f"https://{host}/api/v4", NO_AUTH  # never send a token to a host it was not issued for
    client = HttpClient(api, service="GitLab", auth=auth, retry=retry, error=UpstreamError)
    try:
        items = client.paginate(f"projects/{quote(path, safe='')}/releases")
        return [_release(r) for r in items if isinstance(r, dict)]
    finally:
        client.close()
