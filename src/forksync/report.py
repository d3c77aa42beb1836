"""The run's result as data: the single source of truth.

The JSON report, the PR body, the Slack message and the terminal summary are all
renderings of ``Report``. Later stages (agent, verification, forge, notify) append to it;
``to_json``/``from_json`` let a resumed run continue from a saved one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1

Status = Literal[
    "running",
    "up-to-date",
    "synced",
    "conflicts-left",
    "checks-failed",
    "verify-failed",
    "failed",
    "dry-run",
    "stopped",
    "interrupted",  # a signal (Ctrl-C, a CI cancel) stopped the run; `--resume` finishes it
]
Recommendation = Literal["ready", "needs-review"]


@dataclass
class ReleaseInfo:
    tag: str
    version: str
    commit: str
    url: str = ""
    notes: str = ""
    published_at: str = ""


@dataclass
class HunkRecord:
    index: int
    fork_start: int
    fork_lines: int
    upstream_lines: int
    outcome: str  # resolved | unresolved
    rule: str
    confidence: float
    reason: str
    by_agent: bool = False


@dataclass
class ConflictRecord:
    path: str
    kind: str
    outcome: str  # resolved | unresolved
    rule: str
    reason: str
    hunks: list[HunkRecord] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    # For a path left for review, what the merge commit holds there (see mergetree.review_entry):
    # markers | fork | upstream | absent; and one line saying so, with what the other side did.
    committed: str = ""
    committed_note: str = ""
    agent_edits: int = 0  # places the LLM agent changed outside the conflict hunks


@dataclass
class CheckRecord:
    name: str
    command: str
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    passed: bool = False
    output_tail: str = ""
    tests: dict[str, int] | None = None  # pytest summary: passed/failed/skipped/errors…


@dataclass
class Finding:
    kind: str  # manifest, orphan, broken-call, lost-fork-change, lost-upstream-change, fork-test,
    # markers, clean-merge-duplicate, clean-merge-parse
    message: str
    feature: str = ""
    path: str = ""
    line: int = 0
    commit: str = ""


@dataclass
class AgentChange:
    """One file the agent's fix commits changed (the diff from before the repair to after it)."""

    path: str
    change: str  # added | modified | deleted
    added_lines: int = 0
    removed_lines: int = 0


@dataclass
class ScanFinding:
    """One supply-chain finding in what the release adds or changes (forksync.supply_chain)."""

    path: str
    severity: str  # high | medium | low
    rule: str
    reason: str


@dataclass
class SupplyChainScan:
    """The supply-chain scan of the release; ``held`` says why upstream code was not run."""

    findings: list[ScanFinding] = field(default_factory=list)
    files_changed: int = 0
    blobs_read: int = 0
    bytes_read: int = 0
    git_calls: int = 0
    guarddog: str = ""
    notes: list[str] = field(default_factory=list)
    approved: bool = False
    held: str = ""


@dataclass
class LLMCallRecord:
    purpose: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    duration_s: float
    ok: bool = True
    artifact: str = ""


@dataclass
class PullRequestRecord:
    url: str
    number: int | None
    action: str  # created | updated | unchanged | written
    draft: bool = False
    title: str = ""
    superseded: list[str] = field(default_factory=list)


@dataclass
class NotificationRecord:
    channel: str
    ok: bool
    error: str = ""


@dataclass
class StageRecord:
    name: str
    status: str  # done | skipped | failed
    duration_s: float
    note: str = ""


@dataclass
class VersionUpdate:
    file: str
    old: str | None
    new: str
    upstream_tree_version: str | None = None
    note: str = ""  # why the file was not set to the release's version (kept, dynamic)


@dataclass
class Report:
    run_id: str
    started_at: str
    repo: str
    fork_branch: str
    upstream_url: str
    schema_version: int = SCHEMA_VERSION
    finished_at: str = ""
    status: Status = "running"
    exit_code: int = 0
    dry_run: bool = False
    fork_version: str | None = None
    fork_version_source: str = ""
    release: ReleaseInfo | None = None
    skipped_releases: list[ReleaseInfo] = field(default_factory=list)
    ignored_tags: list[str] = field(default_factory=list)  # newer tags that are not stable releases
    sync_branch: str = ""
    lifecycle: str = ""  # what this run did with the sync branch, and why (forksync.lifecycle)
    config_sources: dict[str, str] = field(default_factory=dict)  # a fleet's fork: key -> fleet | fork
    fork_commit: str = ""
    merge_commit: str = ""
    merge_parents: list[str] = field(default_factory=list)
    compare_url: str = ""
    compare_from: str = ""  # the merge base (or the previous release's tag when it is that commit)
    upstream_commits: int = 0
    files_changed: int = 0
    top_commits: list[str] = field(default_factory=list)
    top_files: list[str] = field(default_factory=list)
    conflicts: list[ConflictRecord] = field(default_factory=list)
    version_update: VersionUpdate | None = None
    checks: list[CheckRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    scan: SupplyChainScan | None = None  # the supply-chain scan of the release (stage "scan")
    llm_calls: list[LLMCallRecord] = field(default_factory=list)
    agent_changes: list[AgentChange] = field(default_factory=list)
    recommendation: Recommendation = "needs-review"
    reasons: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    pull_request: PullRequestRecord | None = None
    pr_title: str = ""
    pr_body: str = ""
    notifications: list[NotificationRecord] = field(default_factory=list)
    stages: list[StageRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    worktree: str = ""
    report_path: str = ""

    # -- derived figures -------------------------------------------------------------
    @property
    def unresolved(self) -> list[ConflictRecord]:
        return [c for c in self.conflicts if c.outcome != "resolved"]

    @property
    def cost_usd(self) -> float:
        return round(sum(c.cost_usd for c in self.llm_calls), 6)

    @property
    def tokens(self) -> int:
        return sum(c.input_tokens + c.output_tokens for c in self.llm_calls)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["totals"] = {
            "conflicted_files": len(self.conflicts),
            "resolved_files": len(self.conflicts) - len(self.unresolved),
            "unresolved_files": len(self.unresolved),
            "llm_tokens": self.tokens,
            "llm_cost_usd": self.cost_usd,
        }
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        data = {k: v for k, v in data.items() if k != "totals"}
        nested: dict[str, Any] = {
            "release": ReleaseInfo,
            "version_update": VersionUpdate,
            "pull_request": PullRequestRecord,
        }
        lists: dict[str, Any] = {
            "skipped_releases": ReleaseInfo,
            "checks": CheckRecord,
            "findings": Finding,
            "llm_calls": LLMCallRecord,
            "agent_changes": AgentChange,
            "notifications": NotificationRecord,
            "stages": StageRecord,
        }
        for key, typ in nested.items():
            if data.get(key) is not None:
                data[key] = typ(**data[key])
        if data.get("scan") is not None:
            scan = data["scan"]
            data["scan"] = SupplyChainScan(
                **{**scan, "findings": [ScanFinding(**f) for f in scan.get("findings", [])]}
            )
        for key, typ in lists.items():
            data[key] = [typ(**item) for item in data.get(key, [])]
        data["conflicts"] = [
            ConflictRecord(**{**c, "hunks": [HunkRecord(**h) for h in c.get("hunks", [])]})
            for c in data.get("conflicts", [])
        ]
        return cls(**data)
