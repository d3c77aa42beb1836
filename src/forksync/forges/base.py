"""The forge interface: what the pipeline needs from GitHub, GitLab or a local outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PullRequestSpec:
    title: str
    body: str
    head: str  # the sync branch
    base: str  # the fork's production branch
    labels: tuple[str, ...]
    draft: bool = False
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    sync_label: str = "automated-sync"  # identifies forksync's PRs among others
    version: str = ""  # the upstream version this PR syncs
    comment: str = ""  # posted on an existing PR when it is updated by a later run


@dataclass(frozen=True)
class PullRequest:
    number: int | None
    url: str
    head: str
    base: str
    title: str
    state: str = "open"  # open | closed | merged
    draft: bool = False
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForgeRelease:
    tag: str
    name: str = ""
    body: str = ""
    draft: bool = False
    prerelease: bool = False
    url: str = ""
    published_at: str = ""


@dataclass
class PublishResult:
    pull_request: PullRequest
    action: str  # created | updated | unchanged | written
    superseded: list[PullRequest] = field(default_factory=list)
    stacked_on: PullRequest | None = None  # the older sync PR this one is based on (on-newer-release = stack)
    warnings: list[str] = field(default_factory=list)  # e.g. a reviewer who could not be requested


class Forge(Protocol):
    name: str

    def publish(self, spec: PullRequestSpec) -> PublishResult:
        """Open the sync PR, or update the open one for the same head (never a duplicate);
        close (supersede) or stack older open sync PRs as configured."""
        ...

    def find_open_sync_prs(self, label: str) -> list[PullRequest]: ...

    def pull_request_for(self, head: str) -> PullRequest | None:
        """The pull request of ``head`` in any state (the open one first, else the newest), so a
        run can tell "merged" or "closed by a person" from "never opened". Also the token check
        made before anything is pushed: a missing or refused token fails here."""
        ...

    def releases(self) -> list[ForgeRelease]:
        """Upstream releases, newest first (drafts included; the caller filters)."""
        ...

    def compare_url(self, upstream_url: str, old: str, new: str) -> str: ...

    def branch_head(self, branch: str) -> str | None:
        """The commit the forge has for ``branch`` (None when it has no such branch), so the
        pipeline can see commits someone else pushed to the sync branch before it pushes."""
        ...
