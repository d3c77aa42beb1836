"""GitHub (and GitHub Enterprise) through its REST API: the sync pull request's lifecycle.

One open sync PR per head branch, updated in place; a later run leaves a comment rather than
a silent rewrite; when a newer release arrives the older sync PR is superseded (commented on,
then closed, after the new one is open) or the new one is stacked on it. Missing labels are
created with colours, and a body over GitHub's limit is folded and shortened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .. import secrets
from ..config import Config
from ..errors import ConfigError, ForgeError, ForksyncError, GitError, UpstreamError
from ..git import Git, check_ref_name
from .base import ForgeRelease, PublishResult, PullRequest, PullRequestSpec
from .common import fit_body, label_colour, repo_path
from .github_app import installation_token
from .http import NO_AUTH, Auth, HttpClient, RetryPolicy
from .lifecycle import settle_older
from .urls import compare_url

DEFAULT_API = "https://api.github.com"
BODY_LIMIT = 65_536  # GitHub rejects longer PR bodies with a 422
_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


# -- authentication and addresses ----------------------------------------------------------
def _env_token(config: Config) -> Auth | None:
    name = config.forge.token_env
    if name:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"[forge] token-env names {name}, which is not set in the environment")
        return Auth({"Authorization": f"Bearer {value}"}, name)
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = os.environ.get(name)
        if value:
            return Auth({"Authorization": f"Bearer {value}"}, name)
    return None


def github_auth(config: Config, api_url: str, repo: str, retry: RetryPolicy | None = None) -> Auth:
    """Token order: ``[forge] token-env``, then a GitHub App, then GITHUB_TOKEN, then GH_TOKEN."""
    forge = config.forge
    if forge.app_id and not forge.token_env:
        if not forge.app_private_key_env:
            raise ConfigError("[forge] app-id is set but app-private-key-env is not")
        key = os.environ.get(forge.app_private_key_env, "")
        if not key:
            raise ConfigError(
                f"[forge] app-private-key-env names {forge.app_private_key_env}, which is not set"
            )
        if "\n" not in key:
            key = key.replace("\\n", "\n")  # CI secrets often carry the PEM on one line
        secrets.register(key)
        token = installation_token(api_url, repo, forge.app_id, key, retry)
        return Auth(
            {"Authorization": f"Bearer {token}"}, f"the installation token of GitHub App {forge.app_id}"
        )
    auth = _env_token(config)
    if auth is None:
        raise ConfigError(
            "no GitHub token: set GITHUB_TOKEN or GH_TOKEN, or [forge] token-env, "
            "or a GitHub App ([forge] app-id and app-private-key-env)"
        )
    return auth


def _api_url(config: Config) -> str:
    return (config.forge.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")


def _repo_name(config: Config, repo: Path) -> str:
    name = config.forge.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not name:
        try:
            url = Git(repo).out("remote", "get-url", "--", config.fork.remote)
        except GitError:
            url = ""
        parsed = repo_path(url) if url else None
        name = parsed[1] if parsed else ""
    if not _REPO.match(name):
        raise ConfigError(
            f"cannot tell the GitHub repository (got {name!r})",
            hint='set [forge] repo = "owner/name" or GITHUB_REPOSITORY',
        )
    return name


# -- the forge -----------------------------------------------------------------------------
class GitHubForge:
    name = "github"

    def __init__(
        self,
        client: HttpClient,
        repo: str,
        *,
        supersede: bool = True,
        managed_labels: Iterable[str] = (),
        colours: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.repo = repo
        self.owner = repo.split("/", 1)[0]
        self.supersede = supersede
        self.managed_labels = frozenset(managed_labels)  # labels forksync may remove again
        self.colours = colours or {}

    @classmethod
    def from_config(cls, config: Config, repo: Path, retry: RetryPolicy | None = None) -> GitHubForge:
        api = _api_url(config)
        name = _repo_name(config, repo)
        auth = github_auth(config, api, name, retry)
        client = HttpClient(api, service="GitHub", auth=auth, retry=retry, headers=_HEADERS)
        forge = config.forge
        managed = [forge.label_sync, forge.label_ready, forge.label_review, *forge.extra_labels]
        return cls(
            client,
            name,
            supersede=forge.on_newer_release == "supersede",
            managed_labels=managed,
            colours={label: label_colour(label, config) for label in managed},
        )

    # -- reading ---------------------------------------------------------------------------
    def _open_pulls(self) -> list[dict[str, Any]]:
        pulls = self.client.paginate(
            f"repos/{self.repo}/pulls", {"state": "open"}, scope="pull_requests: read"
        )
        return [p for p in pulls if isinstance(p, dict)]

    def find_open_sync_prs(self, label: str) -> list[PullRequest]:
        return [_pull(p) for p in self._open_pulls() if label in _labels(p)]

    def pull_request_for(self, head: str) -> PullRequest | None:
        check_ref_name(head, "branch")
        found = self.client.paginate(
            f"repos/{self.repo}/pulls",
            {"state": "all", "head": f"{self.owner}:{head}"},
            scope="pull_requests: read",
        )
        pulls = [p for p in found if isinstance(p, dict) and _head(p) == head]
        if not pulls:
            return None
        open_ = [p for p in pulls if p.get("state") == "open"]
        return _pull(open_[0] if open_ else max(pulls, key=lambda p: int(p["number"])))

    def releases(self) -> list[ForgeRelease]:
        """The repository's releases as GitHub lists them (newest first; drafts included)."""
        return [
            _release(r) for r in self.client.paginate(f"repos/{self.repo}/releases") if isinstance(r, dict)
        ]

    def branch_head(self, branch: str) -> str | None:
        check_ref_name(branch, "branch")
        resp = self.client.request("GET", f"repos/{self.repo}/git/ref/heads/{branch}", allow=(404,))
        if resp.status_code == 404:
            return None
        data = resp.json()
        obj = data.get("object") if isinstance(data, dict) else None
        sha = obj.get("sha") if isinstance(obj, dict) else None
        return sha if isinstance(sha, str) else None

    def compare_url(self, upstream_url: str, old: str, new: str) -> str:
        return compare_url(upstream_url, old, new)

    # -- writing ---------------------------------------------------------------------------
    def comment(self, number: int, body: str) -> None:
        self.client.request(
            "POST",
            f"repos/{self.repo}/issues/{number}/comments",
            json={"body": secrets.redact(body)},
            scope="pull_requests: write",
        )

    def ensure_labels(self, names: Iterable[str]) -> list[str]:
        """Create the labels the repository lacks; return the names created."""
        wanted = list(dict.fromkeys(names))
        have = {str(x.get("name", "")).lower() for x in self.client.paginate(f"repos/{self.repo}/labels")}
        created = []
        for name in wanted:
            if name.lower() in have:
                continue
            resp = self.client.request(
                "POST",
                f"repos/{self.repo}/labels",
                allow=(422,),
                scope="issues: write",
                json={"name": name, "color": self.colours.get(name, "c5def5"), "description": "forksync"},
            )
            if resp.status_code != 422:  # 422 already_exists: another run created it meanwhile
                created.append(name)
        return created

    def publish(self, spec: PullRequestSpec) -> PublishResult:
        check_ref_name(spec.head, "branch")
        labels = list(dict.fromkeys([spec.sync_label, *spec.labels]))
        self.ensure_labels(labels)
        body = fit_body(secrets.redact(spec.body), BODY_LIMIT)
        title = secrets.redact(spec.title)
        pulls = self._open_pulls()
        mine = next((p for p in pulls if _head(p) == spec.head and _head_repo(p) in (self.repo, "")), None)
        synced = [p for p in pulls if p is not mine and spec.sync_label in _labels(p)]
        # Only syncs of the same production branch (directly, or stacked on one another) are older
        # versions of this one; a sync PR into another branch is left alone.
        heads = {_head(p) for p in synced}
        older = sorted(
            (p for p in synced if _base(p) == spec.base or _base(p) in heads), key=lambda p: int(p["number"])
        )
        warnings: list[str] = []
        stacked_on = None
        if mine is not None:
            action = self._update(mine, title, body, labels, spec.comment)
            number = int(mine["number"])
            if bool(mine.get("draft")) != spec.draft and self._set_draft(mine, spec.draft, warnings):
                action = "updated"
        else:
            base = spec.base
            if not self.supersede and older:
                stacked_on = _pull(older[-1])
                base = stacked_on.head
            number = self._create(spec, title, body, base, labels, warnings)
            action = "created"
        current = self.client.json("GET", f"repos/{self.repo}/pulls/{number}")
        pr = _pull(current)
        superseded = settle_older(
            spec,
            pr,
            [int(old["number"]) for old in older],
            stacked_on,
            supersede=self.supersede,
            comment=self.comment,
            close=self._close,
            sign="#",
            noun="pull request",
        )
        return PublishResult(pr, action, superseded, stacked_on, warnings)

    def _close(self, number: int) -> PullRequest:
        closed = self.client.json(
            "PATCH",
            f"repos/{self.repo}/pulls/{number}",
            json={"state": "closed"},
            scope="pull_requests: write",
        )
        return _pull(closed)

    def _create(
        self, spec: PullRequestSpec, title: str, body: str, base: str, labels: list[str], warnings: list[str]
    ) -> int:
        payload = {"title": title, "head": spec.head, "base": base, "body": body, "draft": spec.draft}
        path = f"repos/{self.repo}/pulls"
        try:
            data = self.client.json("POST", path, json=payload, scope="pull_requests: write")
        except ForgeError as exc:
            if not spec.draft or "draft" not in str(exc).lower():
                raise
            # Draft PRs are unavailable on some plans: open a normal PR rather than none.
            warnings.append(f"opened as a normal pull request: {exc.message}")
            data = self.client.json(
                "POST", path, json={**payload, "draft": False}, scope="pull_requests: write"
            )
        number = int(data["number"])
        issue = f"repos/{self.repo}/issues/{number}"
        self.client.request("POST", f"{issue}/labels", json={"labels": labels}, scope="issues: write")
        if spec.assignees:
            self._optional(warnings, "POST", f"{issue}/assignees", {"assignees": list(spec.assignees)})
        if spec.reviewers or spec.team_reviewers:
            self._optional(
                warnings,
                "POST",
                f"repos/{self.repo}/pulls/{number}/requested_reviewers",
                {"reviewers": list(spec.reviewers), "team_reviewers": list(spec.team_reviewers)},
            )
        return number

    def _update(self, pull: dict[str, Any], title: str, body: str, labels: list[str], comment: str) -> str:
        number = int(pull["number"])
        changes = {k: v for k, v in (("title", title), ("body", body)) if (pull.get(k) or "") != v}
        if changes:
            self.client.request(
                "PATCH", f"repos/{self.repo}/pulls/{number}", json=changes, scope="pull_requests: write"
            )
        current = _labels(pull)
        remove = [name for name in current if name in self.managed_labels and name not in labels]
        add = [name for name in labels if name not in current]
        issue = f"repos/{self.repo}/issues/{number}"
        for name in remove:
            self.client.request("DELETE", f"{issue}/labels/{quote(name, safe='')}", allow=(404,))
        if add:
            self.client.request("POST", f"{issue}/labels", json={"labels": add}, scope="issues: write")
        if comment:
            self.comment(number, comment)
        return "updated" if changes or add or remove or comment else "unchanged"

    def _set_draft(self, pull: dict[str, Any], draft: bool, warnings: list[str]) -> bool:
        """Draft state follows the run's verdict: a draft while conflicts are open, ready for review
        once they are resolved. REST cannot change it; GraphQL's two mutations can."""
        mutation = "convertPullRequestToDraft" if draft else "markPullRequestReadyForReview"
        query = f"mutation($id: ID!) {{ {mutation}(input: {{pullRequestId: $id}}) {{ pullRequest {{ isDraft }} }} }}"
        try:
            data = self.client.json(
                "POST",
                _graphql_url(self.client.base_url),
                json={"query": query, "variables": {"id": str(pull.get("node_id", ""))}},
                scope="pull_requests: write",
            )
        except ForksyncError as exc:
            warnings.append(
                f"could not {'convert the PR to a draft' if draft else 'mark the PR ready'}: {exc.message}"
            )
            return False
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors:
            message = errors[0].get("message", "") if isinstance(errors[0], dict) else errors[0]
            warnings.append(
                f"could not {'convert the PR to a draft' if draft else 'mark the PR ready'}: {message}"
            )
            return False
        return True

    # -- issues (the fleet's dashboard issue) ----------------------------------------------
    def find_issues(self, label: str) -> list[Issue]:
        """Issues (open or closed, pull requests left out) carrying ``label``, oldest first."""
        items = self.client.paginate(
            f"repos/{self.repo}/issues", {"labels": label, "state": "all"}, scope="issues: read"
        )
        found = [_issue(i) for i in items if isinstance(i, dict) and "pull_request" not in i]
        return sorted(found, key=lambda i: i.number)

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        data = self.client.json(
            "POST",
            f"repos/{self.repo}/issues",
            json={"title": secrets.redact(title), "body": secrets.redact(body), "labels": labels},
            scope="issues: write",
        )
        return _issue(data)

    def update_issue(self, number: int, **changes: str) -> Issue:
        """PATCH an issue's ``title``, ``body`` or ``state``."""
        payload = {k: secrets.redact(v) if k != "state" else v for k, v in changes.items()}
        data = self.client.json(
            "PATCH", f"repos/{self.repo}/issues/{number}", json=payload, scope="issues: write"
        )
        return _issue(data)

    def _optional(self, warnings: list[str], method: str, path: str, payload: dict[str, Any]) -> None:
        """A call whose failure (a reviewer who is not a collaborator…) must not lose the PR."""
        try:
            self.client.request(method, path, json=payload)
        except ForksyncError as exc:
            warnings.append(exc.message)


def _graphql_url(api: str) -> str:
    """GraphQL's address next to the REST one: api.github.com/graphql, <host>/api/graphql (GHE)."""
    return api[: -len("/v3")] + "/graphql" if api.endswith("/api/v3") else api + "/graphql"


# -- shapes --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    state: str
    url: str


def _issue(data: Any) -> Issue:
    if not isinstance(data, dict) or not isinstance(data.get("number"), int):
        raise ForgeError("GitHub answered with something that is not an issue")
    return Issue(
        data["number"],
        str(data.get("title") or ""),
        str(data.get("body") or ""),
        str(data.get("state") or ""),
        str(data.get("html_url") or ""),
    )


def _labels(pull: dict[str, Any]) -> list[str]:
    return [str(x.get("name")) for x in pull.get("labels") or [] if isinstance(x, dict)]


def _head(pull: dict[str, Any]) -> str:
    return str((pull.get("head") or {}).get("ref", ""))


def _base(pull: dict[str, Any]) -> str:
    return str((pull.get("base") or {}).get("ref", ""))


def _head_repo(pull: dict[str, Any]) -> str:
    repo = (pull.get("head") or {}).get("repo") or {}
    return str(repo.get("full_name", "")) if isinstance(repo, dict) else ""


def _pull(data: Any) -> PullRequest:
    if not isinstance(data, dict) or "number" not in data:
        raise ForgeError("GitHub answered with something that is not a pull request")
    state = str(data.get("state", "open"))
    if state == "closed" and data.get("merged_at"):
        state = "merged"
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url", "")),
        head=_head(data),
        base=_base(data),
        title=str(data.get("title", "")),
        state=state,
        draft=bool(data.get("draft")),
        labels=tuple(_labels(data)),
    )


def _release(data: dict[str, Any]) -> ForgeRelease:
    return ForgeRelease(
        tag=str(data.get("tag_name", "")),
        name=str(data.get("name") or ""),
        body=str(data.get("body") or ""),
        draft=bool(data.get("draft")),
        prerelease=bool(data.get("prerelease")),
        url=str(data.get("html_url") or ""),
        published_at=str(data.get("published_at") or ""),
    )


# -- upstream releases ---------------------------------------------------------------------
def upstream_releases(
    config: Config, upstream_url: str, retry: RetryPolicy | None = None
) -> list[ForgeRelease]:
    """Releases of an upstream repository on GitHub or GitHub Enterprise, newest first, drafts and
    pre-releases included with their flags (forges/upstream.py picks the forge by host)."""
    parsed = repo_path(upstream_url)
    if parsed is None:
        raise UpstreamError(
            f"cannot tell the upstream project from {upstream_url!r}",
            hint='release-source = "releases" needs an upstream on a forge',
        )
    host, path = parsed
    fork_api = _api_url(config)
    if host == httpx.URL(fork_api).host or (host == "github.com" and fork_api == DEFAULT_API):
        api = fork_api
        auth = _env_token(config) or NO_AUTH  # the fork's token belongs to this host: higher rate limit
    else:
        api = DEFAULT_API if host == "github.com" else f"https://{host}/api/v3"
        auth = NO_AUTH  # never send a token to a host it was not issued for
    client = HttpClient(api, service="GitHub", auth=auth, retry=retry, headers=_HEADERS, error=UpstreamError)
    try:
        return [_release(r) for r in client.paginate(f"repos/{path}/releases") if isinstance(r, dict)]
    finally:
        client.close()
