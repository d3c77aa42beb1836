"""A stateful GitLab REST v4 stand-in for the merge-request calls forksync makes.

Projects are addressed by URL-encoded path (``group%2Fproject``); tokens arrive as
``PRIVATE-TOKEN`` or ``JOB-TOKEN``; lists are paginated with Link and ``x-next-page``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from . import Reply, Request, StandIn

_NOW = "2026-01-02T03:04:05.000Z"


@dataclass
class GlProject:
    path: str
    id: int
    branches: dict[str, str] = field(default_factory=lambda: {"main": "a" * 40})
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    mrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)  # newest first


class GitLabStandIn(StandIn):
    def __init__(self, private_tokens: set[str], job_tokens: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.private_tokens = set(private_tokens)
        self.job_tokens = set(job_tokens)
        self.projects: dict[str, GlProject] = {}
        self.users: dict[str, int] = {}
        self._ids = itertools.count(100)
        p = r"/api/v4/projects/(?P<pid>[^/]+)"
        for method, pattern, handler in [
            ("GET", f"{p}/merge_requests", self.list_mrs),
            ("POST", f"{p}/merge_requests", self.create_mr),
            ("GET", rf"{p}/merge_requests/(?P<iid>\d+)", self.get_mr),
            ("PUT", rf"{p}/merge_requests/(?P<iid>\d+)", self.update_mr),
            ("POST", rf"{p}/merge_requests/(?P<iid>\d+)/notes", self.create_note),
            ("GET", f"{p}/labels", self.list_labels),
            ("POST", f"{p}/labels", self.create_label),
            ("GET", f"{p}/releases", self.list_releases),
            ("GET", f"{p}/repository/branches/(?P<branch>.+)", self.get_branch),
            ("GET", "/api/v4/users", self.find_users),
        ]:
            self.route(method, pattern, handler)

    def add_project(self, path: str) -> GlProject:
        project = GlProject(path, next(self._ids))
        self.projects[path] = project
        return project

    def add_user(self, username: str) -> int:
        self.users[username] = next(self._ids)
        return self.users[username]

    def add_release(self, path: str, tag: str, *, upcoming: bool = False) -> None:
        self.projects[path].releases.insert(
            0,
            {
                "tag_name": tag,
                "name": tag,
                "description": f"notes for {tag}",
                "created_at": _NOW,
                "released_at": _NOW,
                "upcoming_release": upcoming,
                "_links": {"self": f"{self.url}/{path}/-/releases/{tag}"},
            },
        )

    def open_mr(self, path: str, branch: str, labels: list[str], target: str = "main") -> dict[str, Any]:
        project = self.projects[path]
        project.branches.setdefault(branch, "b" * 40)
        return self._new_mr(
            project,
            {
                "source_branch": branch,
                "target_branch": target,
                "title": f"Sync {branch}",
                "labels": ",".join(labels),
            },
        )

    def authorize(self, request: Request) -> Reply | None:
        if request.headers.get("private-token") in self.private_tokens:
            return None
        if request.headers.get("job-token") in self.job_tokens:
            return None
        return Reply(401, {"message": "401 Unauthorized"})

    def _project(self, pid: str) -> GlProject | None:
        if pid.isdigit():
            return next((p for p in self.projects.values() if p.id == int(pid)), None)
        return self.projects.get(pid)

    def _new_mr(self, project: GlProject, data: dict[str, Any]) -> dict[str, Any]:
        iid = len(project.mrs) + 1
        title = str(data["title"])
        mr = {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project.id,
            "title": title,
            "description": data.get("description") or "",
            "state": "opened",
            "created_at": _NOW,
            "updated_at": _NOW,
            "target_branch": data["target_branch"],
            "source_branch": data["source_branch"],
            "labels": [x for x in str(data.get("labels") or "").split(",") if x],
            "draft": title.startswith(("Draft:", "[Draft]", "(Draft)")),
            "work_in_progress": title.startswith(("Draft:", "[Draft]", "(Draft)")),
            "assignees": [{"id": u, "username": self._name(u)} for u in data.get("assignee_ids") or []],
            "reviewers": [{"id": u, "username": self._name(u)} for u in data.get("reviewer_ids") or []],
            "sha": project.branches[data["source_branch"]],
            "merge_status": "can_be_merged",
            "web_url": f"{self.url}/{project.path}/-/merge_requests/{iid}",
        }
        project.mrs[iid] = mr
        for label in mr["labels"]:  # GitLab creates unknown labels on assignment
            project.labels.setdefault(label, {"id": next(self._ids), "name": label, "color": "#6699cc"})
        return mr

    def _name(self, uid: int) -> str:
        return next((n for n, i in self.users.items() if i == uid), "?")

    def list_mrs(self, req: Request, pid: str) -> Reply:
        project = self._project(pid)
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        state = req.query.get("state", "all")
        found = [m for m in project.mrs.values() if state == "all" or m["state"] == state]
        if "source_branch" in req.query:
            found = [m for m in found if m["source_branch"] == req.query["source_branch"]]
        if "labels" in req.query:
            want = set(req.query["labels"].split(","))
            found = [m for m in found if want <= set(m["labels"])]
        return self.paginate(req, sorted(found, key=lambda m: -m["iid"]), default=20)

    def create_mr(self, req: Request, pid: str) -> Reply:
        project = self._project(pid)
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        data = req.body or {}
        missing = [k for k in ("source_branch", "target_branch", "title") if not data.get(k)]
        if missing:
            return Reply(400, {"error": f"{missing[0]} is missing"})
        for key in ("source_branch", "target_branch"):
            if data[key] not in project.branches:
                return Reply(422, {"message": [f"{key.replace('_', ' ').capitalize()} is invalid"]})
        if any(
            m["state"] == "opened"
            and m["source_branch"] == data["source_branch"]
            and m["target_branch"] == data["target_branch"]
            for m in project.mrs.values()
        ):
            return Reply(
                409, {"message": ["Another open merge request already exists for this source branch"]}
            )
        if len(data.get("description") or "") > 1_000_000:
            return Reply(400, {"message": {"description": ["is too long (maximum is 1000000 characters)"]}})
        return Reply(201, self._new_mr(project, data))

    def get_mr(self, req: Request, pid: str, iid: str) -> Reply:
        project = self._project(pid)
        mr = project.mrs.get(int(iid)) if project else None
        return Reply(200, mr) if mr else Reply(404, {"message": "404 Not found"})

    def update_mr(self, req: Request, pid: str, iid: str) -> Reply:
        project = self._project(pid)
        mr = project.mrs.get(int(iid)) if project else None
        if project is None or mr is None:
            return Reply(404, {"message": "404 Not found"})
        data = req.body or {}
        if "title" in data:
            mr["title"] = data["title"]
            mr["draft"] = mr["work_in_progress"] = str(data["title"]).startswith("Draft:")
        if "description" in data:
            mr["description"] = data["description"]
        for label in str(data.get("add_labels") or "").split(","):
            if label and label not in mr["labels"]:
                mr["labels"].append(label)
                project.labels.setdefault(label, {"id": next(self._ids), "name": label, "color": "#6699cc"})
        removed = set(str(data.get("remove_labels") or "").split(","))
        mr["labels"] = [x for x in mr["labels"] if x not in removed]
        if data.get("state_event") == "close":
            mr["state"] = "closed"
        if "target_branch" in data:
            mr["target_branch"] = data["target_branch"]
        return Reply(200, mr)

    def create_note(self, req: Request, pid: str, iid: str) -> Reply:
        project = self._project(pid)
        if project is None or int(iid) not in project.mrs:
            return Reply(404, {"message": "404 Not found"})
        body = (req.body or {}).get("body")
        if not body:
            return Reply(400, {"error": "body is missing"})
        note = {
            "id": next(self._ids),
            "body": body,
            "author": {"username": "forksync-bot"},
            "system": False,
            "noteable_type": "MergeRequest",
            "noteable_iid": int(iid),
            "created_at": _NOW,
        }
        project.notes.setdefault(int(iid), []).append(note)
        return Reply(201, note)

    def list_labels(self, req: Request, pid: str) -> Reply:
        project = self._project(pid)
        return self.paginate(req, list(project.labels.values()), default=20) if project else Reply(404, {})

    def create_label(self, req: Request, pid: str) -> Reply:
        project = self._project(pid)
        if project is None:
            return Reply(404, {"message": "404 Project Not Found"})
        data = req.body or {}
        name, color = data.get("name"), data.get("color")
        if not name or not color:
            return Reply(400, {"error": "name, color are missing"})
        if not str(color).startswith("#"):
            return Reply(400, {"message": {"color": ["must be a valid color code"]}})
        if name in project.labels:
            return Reply(409, {"message": "Label already exists"})
        project.labels[name] = {
            "id": next(self._ids),
            "name": name,
            "color": color,
            "description": data.get("description"),
        }
        return Reply(201, project.labels[name])

    def list_releases(self, req: Request, pid: str) -> Reply:
        project = self._project(pid)
        return self.paginate(req, project.releases, default=20) if project else Reply(404, {})

    def get_branch(self, req: Request, pid: str, branch: str) -> Reply:
        project = self._project(pid)
        if project is None or branch not in project.branches:
            return Reply(404, {"message": "404 Branch Not Found"})
        return Reply(200, {"name": branch, "commit": {"id": project.branches[branch]}, "protected": False})

    def find_users(self, req: Request) -> Reply:
        name = req.query.get("username", "")
        return Reply(
            200, [{"id": self.users[name], "username": name, "state": "active"}] if name in self.users else []
        )
