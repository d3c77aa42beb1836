"""A stateful GitHub REST stand-in: repositories, refs, pulls, labels, comments, releases, App auth.

Answers with the shapes of the real API (the fields forksync and common clients read), the
real status codes and validation errors (422 with ``errors``), Link pagination, 401 for bad
credentials and 403 with ``x-accepted-github-permissions`` for a read-only token.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets as pysecrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import Reply, Request, StandIn

_NOW = "2026-01-02T03:04:05Z"
_HEX6 = re.compile(r"^[0-9a-fA-F]{6}$")


def _invalid(resource: str, field_: str, code: str = "invalid", message: str = "") -> Reply:
    err: dict[str, str] = {"resource": resource, "field": field_, "code": code}
    if message:
        err["message"] = message
    return Reply(
        422,
        {
            "message": "Validation Failed",
            "errors": [err],
            "documentation_url": "https://docs.github.com/rest",
            "status": "422",
        },
    )


@dataclass
class GhRepo:
    full_name: str
    refs: dict[str, str] = field(default_factory=lambda: {"main": "a" * 40})
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)  # newest first, as GitHub lists them
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # plain issues (not pull requests)
    collaborators: set[str] = field(default_factory=set)
    drafts_supported: bool = True
    installation_id: int = 0

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]


class GitHubStandIn(StandIn):
    def __init__(self, tokens: dict[str, str] | None = None, *, anonymous_reads: bool = False) -> None:
        super().__init__()
        self.tokens = dict(tokens or {})  # token -> "write" | "read"
        self.anonymous_reads = anonymous_reads
        self.repos: dict[str, GhRepo] = {}
        self.apps: dict[str, str] = {}  # app id -> PEM public key
        self._ids = itertools.count(1000)
        r = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        for method, pattern, handler in [
            ("GET", f"{r}/pulls", self.list_pulls),
            ("POST", f"{r}/pulls", self.create_pull),
            ("GET", rf"{r}/pulls/(?P<n>\d+)", self.get_pull),
            ("PATCH", rf"{r}/pulls/(?P<n>\d+)", self.update_pull),
            ("POST", rf"{r}/pulls/(?P<n>\d+)/requested_reviewers", self.request_reviewers),
            ("GET", f"{r}/labels", self.list_labels),
            ("POST", f"{r}/labels", self.create_label),
            ("POST", rf"{r}/issues/(?P<n>\d+)/labels", self.add_labels),
            ("DELETE", rf"{r}/issues/(?P<n>\d+)/labels/(?P<label>.+)", self.remove_label),
            ("POST", rf"{r}/issues/(?P<n>\d+)/assignees", self.add_assignees),
            ("GET", rf"{r}/issues/(?P<n>\d+)/comments", self.list_comments),
            ("POST", rf"{r}/issues/(?P<n>\d+)/comments", self.create_comment),
            ("GET", f"{r}/releases", self.list_releases),
            ("GET", f"{r}/issues", self.list_issues),
            ("POST", f"{r}/issues", self.create_issue),
            ("PATCH", rf"{r}/issues/(?P<n>\d+)", self.update_issue),
            ("GET", f"{r}/git/ref/heads/(?P<branch>.+)", self.get_ref),
            ("GET", f"{r}/installation", self.get_installation),
            ("POST", r"/app/installations/(?P<iid>\d+)/access_tokens", self.create_installation_token),
            ("POST", r"/graphql", self.graphql),
        ]:
            self.route(method, pattern, handler)

    # -- state set-up -----------------------------------------------------------------------
    def add_repo(self, full_name: str, **kwargs: Any) -> GhRepo:
        repo = GhRepo(full_name, **kwargs)
        self.repos[full_name] = repo
        return repo

    def add_release(
        self, repo: str, tag: str, *, draft: bool = False, prerelease: bool = False, body: str = ""
    ) -> dict[str, Any]:
        rid = next(self._ids)
        release = {
            "url": f"{self.url}/repos/{repo}/releases/{rid}",
            "html_url": f"{self.url}/{repo}/releases/tag/{tag}",
            "id": rid,
            "node_id": f"RE_{rid}",
            "tag_name": tag,
            "target_commitish": "main",
            "name": tag,
            "body": body,
            "draft": draft,
            "prerelease": prerelease,
            "created_at": _NOW,
            "published_at": None if draft else _NOW,
            "assets_url": f"{self.url}/repos/{repo}/releases/{rid}/assets",
            "upload_url": f"https://uploads.github.example/repos/{repo}/releases/{rid}/assets{{?name,label}}",
            "tarball_url": f"{self.url}/repos/{repo}/tarball/{tag}",
            "zipball_url": f"{self.url}/repos/{repo}/zipball/{tag}",
            "author": _user("releaser"),
            "assets": [],
        }
        self.repos[repo].releases.insert(0, release)
        return release

    def open_pull(
        self, repo: str, head: str, base: str = "main", labels: tuple[str, ...] = (), title: str = ""
    ) -> dict[str, Any]:
        """Put an open pull request straight into the state (as an earlier run would have)."""
        gh = self.repos[repo]
        gh.refs.setdefault(head, "b" * 40)
        for name in labels:
            gh.labels.setdefault(name, self._label(name, "ededed"))
        pull = self._new_pull(gh, title or f"Sync {head}", "old body", head, base, False)
        pull["labels"] = [gh.labels[name] for name in labels]
        return pull

    def add_app(self, app_id: str, public_pem: str, repo: str) -> int:
        self.apps[app_id] = public_pem
        self.repos[repo].installation_id = next(self._ids)
        return self.repos[repo].installation_id

    # -- auth -----------------------------------------------------------------------------
    def authorize(self, request: Request) -> Reply | None:
        if request.path.startswith("/app/") or request.path.endswith("/installation"):
            return self._authorize_app(request)
        header = request.headers.get("authorization", "")
        token = header.split(" ", 1)[1] if " " in header else ""
        if not header:
            if self.anonymous_reads and request.method == "GET":
                return None
            return Reply(401, {"message": "Requires authentication", "status": "401"})
        if token not in self.tokens:
            return Reply(
                401,
                {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                },
            )
        if request.method != "GET" and self.tokens[token] != "write":
            need = (
                "issues=write"
                if "/labels" in request.path or "/issues/" in request.path
                else "pull_requests=write"
            )
            return Reply(
                403,
                {"message": "Resource not accessible by integration", "status": "403"},
                {"x-accepted-github-permissions": need},
            )
        return None

    def _authorize_app(self, request: Request) -> Reply | None:
        import jwt

        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            iss = str(jwt.decode(token, options={"verify_signature": False})["iss"])
            jwt.decode(token, self.apps[iss], algorithms=["RS256"])
        except Exception as exc:
            return Reply(401, {"message": f"A JSON web token could not be decoded ({type(exc).__name__})"})
        return None

    # -- handlers -------------------------------------------------------------------------
    def _repo(self, owner: str, name: str) -> GhRepo | None:
        return self.repos.get(f"{owner}/{name}")

    def _label(self, name: str, color: str, description: str = "") -> dict[str, Any]:
        lid = next(self._ids)
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "url": f"{self.url}/labels/{lid}",
            "name": name,
            "color": color,
            "default": False,
            # GitHub sends null for no description, but the published schema of a PR's labels
            # (pull-request-simple) does not allow null: "" satisfies both readings.
            "description": description,
        }

    def _new_pull(
        self, gh: GhRepo, title: str, body: str, head: str, base: str, draft: bool
    ) -> dict[str, Any]:
        number = next(self._ids)
        branch = lambda ref: {  # noqa: E731
            "label": f"{gh.owner}:{ref}",
            "ref": ref,
            "sha": gh.refs[ref],
            "user": _user(gh.owner),
            "repo": _repository(gh.full_name),
        }
        api = f"{API}/repos/{gh.full_name}"
        html = f"{self.url}/{gh.full_name}/pull/{number}"
        pull = {
            "url": f"{self.url}/repos/{gh.full_name}/pulls/{number}",
            "id": number * 7,
            "node_id": f"PR_{number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{number}",
            "commits_url": f"{api}/pulls/{number}/commits",
            "review_comments_url": f"{api}/pulls/{number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "statuses_url": f"{api}/statuses/{gh.refs[head]}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": title,
            "user": _user("forksync-bot"),
            "body": body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": _NOW,
            "updated_at": _NOW,
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": branch(head),
            "base": branch(base),
            "_links": {
                k: {"href": v}
                for k, v in (
                    ("self", f"{api}/pulls/{number}"),
                    ("html", html),
                    ("issue", f"{api}/issues/{number}"),
                    ("comments", f"{api}/issues/{number}/comments"),
                    ("review_comments", f"{api}/pulls/{number}/comments"),
                    ("review_comment", f"{api}/pulls/comments{{/number}}"),
                    ("commits", f"{api}/pulls/{number}/commits"),
                    ("statuses", f"{api}/statuses/{gh.refs[head]}"),
                )
            },
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": draft,
            "merged": False,
            "mergeable": None,
            "rebaseable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }
        gh.pulls[number] = pull
        return pull

    def list_pulls(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None:
            return Reply(404, {"message": "Not Found"})
        state = req.query.get("state", "open")
        found = [p for p in gh.pulls.values() if state == "all" or p["state"] == state]
        if "head" in req.query:
            found = [p for p in found if p["head"]["label"] == req.query["head"]]
        if "base" in req.query:
            found = [p for p in found if p["base"]["ref"] == req.query["base"]]
        found.sort(key=lambda p: p["number"], reverse=True)
        return self.paginate(req, found)

    def create_pull(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None:
            return Reply(404, {"message": "Not Found"})
        data = req.body or {}
        for key in ("title", "head", "base"):
            if not isinstance(data.get(key), str) or not data[key]:
                return _invalid("PullRequest", key, "missing_field")
        head, base = data["head"].split(":")[-1], data["base"]
        if head not in gh.refs:
            return _invalid("PullRequest", "head", "invalid")
        if base not in gh.refs:
            return _invalid("PullRequest", "base", "invalid")
        if len(data.get("body") or "") > 65536:
            return _invalid("Issue", "body", "custom", "body is too long (maximum is 65536 characters)")
        if data.get("draft") and not gh.drafts_supported:
            return Reply(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": "Draft pull requests are not supported in this repository.",
                        }
                    ],
                },
            )
        if any(
            p["state"] == "open" and p["head"]["ref"] == head and p["base"]["ref"] == base
            for p in gh.pulls.values()
        ):
            return _invalid("PullRequest", "", "custom", f"A pull request already exists for {owner}:{head}.")
        pull = self._new_pull(gh, data["title"], data.get("body") or "", head, base, bool(data.get("draft")))
        return Reply(201, pull, {"Location": pull["url"]})

    def get_pull(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        pull = gh.pulls.get(int(n)) if gh else None
        return Reply(200, pull) if pull else Reply(404, {"message": "Not Found"})

    def update_pull(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        pull = gh.pulls.get(int(n)) if gh else None
        if gh is None or pull is None:
            return Reply(404, {"message": "Not Found"})
        data = req.body or {}
        if len(data.get("body") or "") > 65536:
            return _invalid("Issue", "body", "custom", "body is too long (maximum is 65536 characters)")
        if data.get("state") not in (None, "open", "closed"):
            return _invalid("PullRequest", "state", "invalid")
        for key in ("title", "body", "state"):
            if key in data:
                pull[key] = data[key]
        if data.get("state") == "closed":
            pull["closed_at"] = _NOW
        if "base" in data:
            if data["base"] not in gh.refs:
                return _invalid("PullRequest", "base", "invalid")
            pull["base"]["ref"] = data["base"]
        return Reply(200, pull)

    def request_reviewers(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        pull = gh.pulls.get(int(n)) if gh else None
        if gh is None or pull is None:
            return Reply(404, {"message": "Not Found"})
        data = req.body or {}
        users, teams = data.get("reviewers") or [], data.get("team_reviewers") or []
        if any(u not in gh.collaborators for u in users):
            return Reply(
                422,
                {
                    "message": "Reviews may only be requested from collaborators. One or more of the "
                    f"users or teams you specified is not a collaborator of the {gh.full_name} "
                    "repository.",
                    "status": "422",
                },
            )
        pull["requested_reviewers"] += [_user(u) for u in users]
        pull["requested_teams"] += [_team(t) for t in teams]
        return Reply(201, pull)

    def list_labels(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        return self.paginate(req, list(gh.labels.values())) if gh else Reply(404, {"message": "Not Found"})

    def create_label(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None:
            return Reply(404, {"message": "Not Found"})
        data = req.body or {}
        label_name, color = data.get("name"), str(data.get("color", "ededed")).lstrip("#")
        if not label_name:
            return _invalid("Label", "name", "missing_field")
        if not _HEX6.match(color):
            return _invalid("Label", "color", "invalid")
        if label_name.lower() in {k.lower() for k in gh.labels}:
            return _invalid("Label", "name", "already_exists")
        gh.labels[label_name] = self._label(label_name, color, data.get("description", ""))
        return Reply(201, gh.labels[label_name])

    def add_labels(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        pull = gh.pulls.get(int(n)) if gh else None
        if gh is None or pull is None:
            return Reply(404, {"message": "Not Found"})
        names = (req.body or {}).get("labels")
        if not isinstance(names, list):
            return _invalid("Label", "labels", "invalid")
        for label in names:
            if label not in gh.labels:  # GitHub creates unknown labels, in its default grey
                gh.labels[label] = self._label(label, "ededed")
            if all(x["name"] != label for x in pull["labels"]):
                pull["labels"].append(gh.labels[label])
        return Reply(200, pull["labels"])

    def remove_label(self, req: Request, owner: str, name: str, n: str, label: str) -> Reply:
        gh = self._repo(owner, name)
        pull = gh.pulls.get(int(n)) if gh else None
        if gh is None or pull is None or all(x["name"] != label for x in pull["labels"]):
            return Reply(404, {"message": "Label does not exist"})
        pull["labels"] = [x for x in pull["labels"] if x["name"] != label]
        return Reply(200, pull["labels"])

    def add_assignees(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        pull = gh.pulls.get(int(n)) if gh else None
        if gh is None or pull is None:
            return Reply(404, {"message": "Not Found"})
        # GitHub silently drops assignees without access to the repository.
        pull["assignees"] += [
            _user(u) for u in (req.body or {}).get("assignees", []) if u in gh.collaborators
        ]
        pull["assignee"] = pull["assignees"][0] if pull["assignees"] else None
        return Reply(201, _issue_view(pull, gh.full_name))

    def list_comments(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        return self.paginate(req, gh.comments.get(int(n), [])) if gh else Reply(404, {"message": "Not Found"})

    def create_comment(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None or int(n) not in gh.pulls:
            return Reply(404, {"message": "Not Found"})
        body = (req.body or {}).get("body")
        if not body:
            return _invalid("IssueComment", "body", "missing_field")
        cid = next(self._ids)
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "html_url": f"{self.url}/{gh.full_name}/pull/{n}#c{cid}",
            "url": f"{API}/repos/{gh.full_name}/issues/comments/{cid}",
            "issue_url": f"{API}/repos/{gh.full_name}/issues/{n}",
            "author_association": "MEMBER",
            "body": body,
            "user": _user("forksync-bot"),
            "created_at": _NOW,
            "updated_at": _NOW,
        }
        gh.comments.setdefault(int(n), []).append(comment)
        gh.pulls[int(n)]["comments"] += 1
        return Reply(201, comment)

    def list_issues(self, req: Request, owner: str, name: str) -> Reply:
        """Issues and pull requests (as GitHub lists both), filtered by state and labels (all of them)."""
        gh = self._repo(owner, name)
        if gh is None:
            return Reply(404, {"message": "Not Found"})
        state = req.query.get("state", "open")
        wanted = [x for x in req.query.get("labels", "").split(",") if x]
        items = list(gh.issues.values()) + [_issue_view(p, gh.full_name) for p in gh.pulls.values()]
        found = [
            i
            for i in items
            if (state == "all" or i["state"] == state)
            and all(any(lbl["name"] == w for lbl in i["labels"]) for w in wanted)
        ]
        found.sort(key=lambda i: i["number"], reverse=True)
        return self.paginate(req, found)

    def create_issue(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None:
            return Reply(404, {"message": "Not Found"})
        data = req.body or {}
        if not isinstance(data.get("title"), str) or not data["title"]:
            return _invalid("Issue", "title", "missing_field")
        if len(data.get("body") or "") > 65536:
            return _invalid("Issue", "body", "custom", "body is too long (maximum is 65536 characters)")
        number = next(self._ids)
        labels = []
        for label in data.get("labels") or []:
            gh.labels.setdefault(label, self._label(label, "ededed"))
            labels.append(gh.labels[label])
        url = f"{API}/repos/{gh.full_name}/issues/{number}"
        issue = {
            "id": number * 11,
            "node_id": f"I_{number}",
            "url": url,
            "repository_url": f"{API}/repos/{gh.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.url}/{gh.full_name}/issues/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": data["title"],
            "body": data.get("body") or "",
            "user": _user("forksync-bot"),
            "labels": labels,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": _NOW,
            "updated_at": _NOW,
            "closed_at": None,
            "author_association": "MEMBER",
        }
        gh.issues[number] = issue
        return Reply(201, issue, {"Location": url})

    def update_issue(self, req: Request, owner: str, name: str, n: str) -> Reply:
        gh = self._repo(owner, name)
        issue = gh.issues.get(int(n)) if gh else None
        if gh is None or issue is None:
            return Reply(404, {"message": "Not Found"})
        data = req.body or {}
        if data.get("state") not in (None, "open", "closed"):
            return _invalid("Issue", "state", "invalid")
        if len(data.get("body") or "") > 65536:
            return _invalid("Issue", "body", "custom", "body is too long (maximum is 65536 characters)")
        for key in ("title", "body", "state"):
            if key in data:
                issue[key] = data[key]
        issue["closed_at"] = _NOW if issue["state"] == "closed" else None
        return Reply(200, issue)

    def list_releases(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        return self.paginate(req, gh.releases) if gh else Reply(404, {"message": "Not Found"})

    def get_ref(self, req: Request, owner: str, name: str, branch: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None or branch not in gh.refs:
            return Reply(404, {"message": "Not Found"})
        return Reply(
            200,
            {
                "ref": f"refs/heads/{branch}",
                "node_id": "REF_1",
                "url": f"{self.url}/repos/{gh.full_name}/git/refs/heads/{branch}",
                "object": {"type": "commit", "sha": gh.refs[branch], "url": ""},
            },
        )

    def get_installation(self, req: Request, owner: str, name: str) -> Reply:
        gh = self._repo(owner, name)
        if gh is None or not gh.installation_id:
            return Reply(404, {"message": "Not Found"})
        return Reply(
            200,
            {
                "id": gh.installation_id,
                "account": _user(owner),
                "app_id": 1,
                "app_slug": "forksync",
                "target_id": 1,
                "target_type": "Organization",
                "single_file_name": None,
                "repository_selection": "selected",
                "access_tokens_url": f"{self.url}/app/installations/{gh.installation_id}/access_tokens",
                "html_url": f"{WEB}/organizations/{owner}/settings/installations/{gh.installation_id}",
                "repositories_url": f"{self.url}/installation/repositories",
                "events": ["pull_request"],
                "permissions": {"pull_requests": "write", "issues": "write", "contents": "write"},
                "created_at": _NOW,
                "updated_at": _NOW,
                "suspended_by": None,
                "suspended_at": None,
            },
        )

    def graphql(self, req: Request) -> Reply:
        """The two GraphQL mutations that change a PR's draft state (REST cannot); GraphQL
        answers 200 with ``errors`` for a bad id, as GitHub does."""
        data = req.body or {}
        query, node = str(data.get("query", "")), str((data.get("variables") or {}).get("id", ""))
        pull = next(
            (p for gh in self.repos.values() for p in gh.pulls.values() if p["node_id"] == node), None
        )
        if pull is None:
            message = f"Could not resolve to a node with the global id of '{node}'"
            return Reply(200, {"data": None, "errors": [{"type": "NOT_FOUND", "message": message}]})
        for mutation, draft in (
            ("markPullRequestReadyForReview", False),
            ("convertPullRequestToDraft", True),
        ):
            if mutation in query:
                pull["draft"] = draft
                return Reply(200, {"data": {mutation: {"pullRequest": {"isDraft": draft}}}})
        return Reply(200, {"errors": [{"message": "unsupported query"}]})

    def create_installation_token(self, req: Request, iid: str) -> Reply:
        if all(r.installation_id != int(iid) for r in self.repos.values()):
            return Reply(404, {"message": "Not Found"})
        token = "ghs_" + pysecrets.token_hex(18)
        self.tokens[token] = "write"
        return Reply(
            201,
            {
                "token": token,
                "expires_at": "2026-01-02T04:04:05Z",
                "permissions": {"pull_requests": "write", "issues": "write"},
            },
        )


API = "https://api.github.example"  # where the user and repository objects' API links point
WEB = "https://github.example"


def _user(login: str) -> dict[str, Any]:
    """A simple-user, with every field the published schema requires."""
    url = f"{API}/users/{login}"
    return {
        "login": login,
        "id": sum(map(ord, login)) * 7919,
        "node_id": f"U_{login}",
        "type": "User",
        "site_admin": False,
        "gravatar_id": "",
        "avatar_url": f"{WEB}/avatars/{login}",
        "html_url": f"{WEB}/{login}",
        "url": url,
        "events_url": f"{url}/events{{/privacy}}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "organizations_url": f"{url}/orgs",
        "received_events_url": f"{url}/received_events",
        "repos_url": f"{url}/repos",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
    }


_REPO_LINKS = [
    "archive",
    "assignees",
    "blobs",
    "branches",
    "collaborators",
    "comments",
    "commits",
    "compare",
    "contents",
    "contributors",
    "deployments",
    "downloads",
    "events",
    "forks",
    "git_commits",
    "git_refs",
    "git_tags",
    "hooks",
    "issue_comment",
    "issue_events",
    "issues",
    "keys",
    "labels",
    "languages",
    "merges",
    "milestones",
    "notifications",
    "pulls",
    "releases",
    "stargazers",
    "statuses",
    "subscribers",
    "subscription",
    "tags",
    "teams",
    "trees",
]


def _repository(full_name: str) -> dict[str, Any]:
    """A repository object as nested in a pull request's head and base."""
    owner, name = full_name.split("/")
    url = f"{API}/repos/{full_name}"
    repo: dict[str, Any] = {f"{link}_url": f"{url}/{link.replace('_', '/')}" for link in _REPO_LINKS}
    repo.update(
        {
            "id": sum(map(ord, full_name)) * 104729,
            "node_id": f"R_{name}",
            "name": name,
            "full_name": full_name,
            "owner": _user(owner),
            "private": False,
            "html_url": f"{WEB}/{full_name}",
            "description": "",
            "fork": owner != "octo",
            "url": url,
            "clone_url": f"{WEB}/{full_name}.git",
            "git_url": f"git://x/{full_name}",
            "ssh_url": f"git@github.example:{full_name}.git",
            "svn_url": f"{WEB}/{full_name}",
            "mirror_url": None,
            "homepage": "",
            "language": "Python",
            "license": None,
            "default_branch": "main",
            "size": 1024,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "open_issues": 0,
            "open_issues_count": 0,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "archived": False,
            "disabled": False,
            "pushed_at": _NOW,
            "created_at": _NOW,
            "updated_at": _NOW,
        }
    )
    return repo


def _team(slug: str) -> dict[str, Any]:
    return {
        "id": sum(map(ord, slug)),
        "node_id": f"T_{slug}",
        "url": f"{API}/teams/{slug}",
        "name": slug,
        "slug": slug,
        "description": None,
        "permission": "pull",
        "privacy": "closed",
        "type": "organization",
        "members_url": f"{API}/teams/{slug}/members{{/member}}",
        "html_url": f"{WEB}/orgs/acme/teams/{slug}",
        "repositories_url": f"{API}/teams/{slug}/repos",
        "parent": None,
        "notification_setting": "notifications_enabled",
    }


def _issue_view(pull: dict[str, Any], full_name: str) -> dict[str, Any]:
    """The issue side of a pull request (what the issues endpoints answer)."""
    keys = (
        "id",
        "node_id",
        "number",
        "state",
        "locked",
        "title",
        "body",
        "user",
        "labels",
        "assignee",
        "assignees",
        "milestone",
        "comments",
        "created_at",
        "updated_at",
        "closed_at",
        "author_association",
    )
    issue = {k: pull[k] for k in keys}
    url = f"{API}/repos/{full_name}/issues/{pull['number']}"
    issue.update(
        {
            "url": url,
            "repository_url": f"{API}/repos/{full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": pull["html_url"],
            "pull_request": {
                "url": pull["url"],
                "html_url": pull["html_url"],
                "diff_url": pull["diff_url"],
                "patch_url": pull["patch_url"],
                "merged_at": pull["merged_at"],
            },
        }
    )
    return issue


# -- the contract: GitHub's own OpenAPI description ------------------------------------------
SPEC = Path(__file__).parent.parent / "data" / "github_openapi" / "api.github.com.trimmed.json"
_GREEDY = {"ref", "name"}  # path parameters that may contain slashes (git refs, label names)


class OpenAPI:
    """A small checker for the subset of OpenAPI 3.0 schemas GitHub's description uses:
    type, nullable, enum, properties, required, items, allOf/anyOf/oneOf and $ref."""

    def __init__(self, path: Path = SPEC) -> None:
        self.spec = json.loads(path.read_text(encoding="utf-8"))
        self.ops: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for template, methods in self.spec["paths"].items():
            pattern = re.sub(r"\{(\w+)\}", lambda m: "(.+)" if m.group(1) in _GREEDY else "([^/]+)", template)
            for method, op in methods.items():
                self.ops.append((method.upper(), re.compile(f"^{pattern}$"), op))

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            _, _, kind, name = node["$ref"].split("/", 3)
            node = self.spec["components"][kind][name]
        return node

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        found = [op for m, rx, op in self.ops if m == method and rx.match(path)]
        return found[0] if found else None

    def request_errors(self, method: str, path: str, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: not an operation of the GitHub API"]
        if "requestBody" not in op:
            return [] if body is None else [f"{method} {path}: sends a body the API does not take"]
        declared = self.resolve(op["requestBody"])
        if body is None:
            return [f"{method} {path}: request body missing"] if declared.get("required") else []
        schema = declared["content"]["application/json"]["schema"]
        errors = self.errors(schema, body, f"{method} {path} request")
        props = dict(self.resolve(schema).get("properties", {}))
        for alt in self.resolve(schema).get("oneOf", []) + self.resolve(schema).get("anyOf", []):
            props.update(self.resolve(alt).get("properties", {}))
        if isinstance(body, dict):  # an unknown field is ignored by GitHub: a silent bug
            errors += [f"{method} {path} request: unknown field {k!r}" for k in body if k not in props]
        return errors

    def response_errors(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: not an operation of the GitHub API"]
        documented = op["responses"].get(str(status))
        if documented is None:
            return [] if status >= 400 else [f"{method} {path}: undocumented status {status}"]
        content = self.resolve(documented).get("content", {}).get("application/json")
        if content is None:
            return []
        return self.errors(content["schema"], body, f"{method} {path} {status}")

    def errors(self, schema: dict[str, Any], value: Any, at: str) -> list[str]:
        schema = self.resolve(schema)
        if value is None:
            ok = schema.get("nullable") or (not schema.get("type") and not schema.get("properties"))
            return [] if ok or "allOf" in schema or "anyOf" in schema else [f"{at}: null where not nullable"]
        errors: list[str] = []
        for sub in schema.get("allOf", []):
            errors += self.errors(sub, value, at)
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives and all(self.errors(alt, value, at) for alt in alternatives):
            errors.append(f"{at}: matches none of the alternatives")
        kind = schema.get("type")
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        }
        if kind in checks and not checks[kind](value):
            return [*errors, f"{at}: expected {kind}, got {type(value).__name__}"]
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{at}: {value!r} not in {schema['enum']}")
        if isinstance(value, dict):
            errors += [f"{at}: missing required {k!r}" for k in schema.get("required", []) if k not in value]
            for key, sub in schema.get("properties", {}).items():
                if key in value:
                    errors += self.errors(sub, value[key], f"{at}.{key}")
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value[:5]):
                errors += self.errors(schema["items"], item, f"{at}[{i}]")
        return errors
