"""A stateful GitHub REST stand-in: repositories, refs, pulls, labels, comments, releases, App auth.

Answers with the shapes of the real API (the fields forksync and common clients read), the
real status codes and validation errors (422 with ``errors``), Link pagination, 401 for bad
credentials and 403 with ``x-accepted-github-permissions`` for a read-only token.
"""

from __future__ import annotations

import itertools
import re
import secrets as pysecrets
from dataclasses import dataclass, field
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
            ("GET", f"{r}/git/ref/heads/(?P<branch>.+)", self.get_ref),
            ("GET", f"{r}/installation", self.get_installation),
            ("POST", r"/app/installations/(?P<iid>\d+)/access_tokens", self.create_installation_token),
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
            "description": description or None,
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
            "repo": {
                "id": 1,
                "name": gh.full_name.split("/")[1],
                "full_name": gh.full_name,
                "owner": _user(gh.owner),
                "private": False,
            },
        }
        pull = {
            "url": f"{self.url}/repos/{gh.full_name}/pulls/{number}",
            "id": number * 7,
            "node_id": f"PR_{number}",
            "html_url": f"{self.url}/{gh.full_name}/pull/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": title,
            "user": _user("forksync-bot"),
            "body": body,
            "labels": [],
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
            "draft": draft,
            "author_association": "MEMBER",
            "merged": False,
            "comments": 0,
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
        pull["requested_teams"] += [{"id": 1, "slug": t, "name": t} for t in teams]
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
        return Reply(201, pull)

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
            "body": body,
            "user": _user("forksync-bot"),
            "created_at": _NOW,
            "updated_at": _NOW,
        }
        gh.comments.setdefault(int(n), []).append(comment)
        gh.pulls[int(n)]["comments"] += 1
        return Reply(201, comment)

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
                "repository_selection": "selected",
                "permissions": {"pull_requests": "write"},
            },
        )

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


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": abs(hash(login)) % 10**6,
        "node_id": f"U_{login}",
        "type": "User",
        "html_url": f"https://github.example/{login}",
    }
