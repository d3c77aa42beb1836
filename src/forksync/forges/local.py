"""The `local` forge: pull requests written as JSON and Markdown into an outbox folder.

Used by the demo, by dry runs on a laptop, and by teams whose forge forksync does not
speak: a later step (or a person) opens the PR from these files. It keeps the same
lifecycle as a real forge: one open PR per head, updated in place, older ones superseded.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from ..config import Config
from ..git import Git
from .base import ForgeRelease, PublishResult, PullRequest, PullRequestSpec
from .urls import compare_url


def _slug(head: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", head).strip("-")


class LocalForge:
    name = "local"

    def __init__(self, outbox: Path, supersede: bool = True) -> None:
        self.outbox = outbox
        self.supersede = supersede

    @classmethod
    def from_config(cls, config: Config, repo: Path) -> LocalForge:
        if config.forge.outbox:
            outbox = Path(config.forge.outbox)
            outbox = outbox if outbox.is_absolute() else repo / outbox
        else:
            outbox = Git(repo).common_dir() / "forksync" / "outbox"
        return cls(outbox, config.forge.on_newer_release == "supersede")

    def _load(self, path: Path) -> dict[str, object]:
        data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _pr(self, data: dict[str, object], path: Path) -> PullRequest:
        labels = data.get("labels", [])
        return PullRequest(
            number=None,
            url=path.with_suffix(".md").as_uri(),
            head=str(data["head"]),
            base=str(data["base"]),
            title=str(data["title"]),
            state=str(data.get("state", "open")),
            draft=bool(data.get("draft")),
            labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
        )

    def find_open_sync_prs(self, label: str) -> list[PullRequest]:
        if not self.outbox.is_dir():
            return []
        found = []
        for path in sorted(self.outbox.glob("*.json")):
            data = self._load(path)
            labels = data.get("labels", [])
            if data.get("state") == "open" and isinstance(labels, list) and label in labels:
                found.append(self._pr(data, path))
        return found

    def pull_request_for(self, head: str) -> PullRequest | None:
        path = self.outbox / f"{_slug(head)}.json"
        return self._pr(self._load(path), path) if path.is_file() else None

    def publish(self, spec: PullRequestSpec) -> PublishResult:
        self.outbox.mkdir(parents=True, exist_ok=True)
        path = self.outbox / f"{_slug(spec.head)}.json"
        record: dict[str, object] = {**asdict(spec), "labels": list(spec.labels), "state": "open"}
        for key in ("reviewers", "team_reviewers", "assignees"):
            record[key] = list(getattr(spec, key))
        comments: list[str] = []
        action = "created"
        if path.exists():
            old = self._load(path)
            old_comments = old.get("comments", [])
            comments = [str(c) for c in old_comments] if isinstance(old_comments, list) else []
            same = {k: old.get(k) for k in record} == record
            action = "unchanged" if same else "updated"
            if spec.comment and not same:
                comments.append(spec.comment)
        record["comments"] = comments
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        path.with_suffix(".md").write_text(f"# {spec.title}\n\n{spec.body}\n", encoding="utf-8")
        superseded = []
        if self.supersede:
            for other in self.outbox.glob("*.json"):
                if other == path:
                    continue
                data = self._load(other)
                labels = data.get("labels", [])
                if data.get("state") == "open" and isinstance(labels, list) and spec.sync_label in labels:
                    data["state"] = "closed"
                    data["superseded_by"] = spec.head
                    other.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
                    superseded.append(self._pr(data, other))
        return PublishResult(self._pr(record, path), action, superseded)

    def releases(self) -> list[ForgeRelease]:
        return []

    def compare_url(self, upstream_url: str, old: str, new: str) -> str:
        return compare_url(upstream_url, old, new)

    def branch_head(self, branch: str) -> str | None:
        return None  # an outbox has no branches: the pipeline's own git checks apply
