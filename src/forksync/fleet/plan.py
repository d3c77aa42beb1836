"""`forksync fleet plan`: which forks are due, as GitHub Actions matrices.

Cheap by design: one `git ls-remote --tags` per distinct upstream and one `git ls-remote` of each
fork's production branch, run in a bounded thread pool of subprocesses; nothing is cloned. A
fork is due when its newest upstream stable release (by the fleet's pattern) or its branch tip
differs from what its last run saw (the fleet state `fleet report` writes); without a state
every fork with a release is due, and its own job finds out whether it is up to date.

A fork that is unreachable or misconfigured becomes one line in ``problems``; the others go on.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError, ForksyncError
from ..git import Git, check_ref_name
from ..releases import Release, stable_releases
from ..secrets import redact
from .model import Fleet, FleetFork, fleet_config

MATRIX_LIMIT = 256  # GitHub's jobs per matrix
SETTLED = ("up-to-date", "synced", "conflicts-left", "checks-failed", "verify-failed", "stopped")


@dataclass(frozen=True)
class Entry:
    """One matrix job: the fork to sync (all a job needs; its config comes from the fleet file)."""

    name: str
    repository: str
    owner: str  # for actions/create-github-app-token: owner and repositories
    repo: str
    release: str
    reason: str


@dataclass
class Plan:
    due: list[Entry] = field(default_factory=list)
    settled: list[dict[str, str]] = field(default_factory=list)  # name, reason
    problems: list[str] = field(default_factory=list)
    git_calls: int = 0

    def matrices(self, size: int = MATRIX_LIMIT) -> list[dict[str, list[dict[str, str]]]]:
        """The due forks as matrices of at most ``size`` jobs (``{"include": [...]}`` each)."""
        rows = [asdict(e) for e in self.due]
        return [{"include": rows[i : i + size]} for i in range(0, len(rows), size)]

    def to_dict(self, size: int = MATRIX_LIMIT) -> dict[str, Any]:
        return {
            "matrices": self.matrices(size),
            "due": len(self.due),
            "settled": self.settled,
            "problems": self.problems,
        }


def decide(releases: list[Release], fork_tip: str, last: dict[str, Any] | None) -> tuple[bool, str]:
    """Is the fork due? A pure decision on what `ls-remote` showed and the last run's record."""
    newest = releases[0]
    if newest.commit == fork_tip:
        return False, f"the fork's branch is {newest.tag} itself"
    if last and last.get("release_commit") == newest.commit and last.get("fork_commit") == fork_tip:
        status = str(last.get("status", ""))
        if status in SETTLED:
            return False, f"unchanged since the last run ({status}, {newest.tag})"
        return True, f"{newest.tag}: the last run ended {status or 'without a report'}; retrying"
    if last and last.get("release_commit") == newest.commit:
        return True, f"{newest.tag}: the fork's branch moved since the last run"
    if last:
        return True, f"{newest.tag}: a new upstream release"
    return True, f"{newest.tag}: no earlier run recorded"


class _Remote:
    """`git ls-remote` calls, counted (the bench reports how many git processes a plan takes)."""

    def __init__(self, cwd: Path) -> None:
        self.git = Git(cwd)
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def tags(self, url: str) -> dict[str, str]:
        self._count()
        return self.git.ls_remote_tags(url, timeout=60)

    def head(self, url: str, branch: str) -> str | None:
        self._count()
        ref = f"refs/heads/{check_ref_name(branch, 'fork branch')}"
        res = self.git.remote("ls-remote", "--", url, ref, timeout=60)
        if res.returncode != 0:
            last = res.err.splitlines()[-1] if res.err else f"exit {res.returncode}"
            raise ForksyncError(f"cannot reach the fork: {last}")
        for line in res.out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None


def _config(fleet: Fleet, fork: FleetFork) -> Config:
    if fork.problem:
        raise ConfigError(fork.problem)
    config = fleet_config(fleet, fork)
    if not config.upstream.url:
        raise ConfigError("no [upstream] url in the fleet file for this fork")
    return config


def make_plan(
    fleet: Fleet,
    state: dict[str, dict[str, Any]] | None = None,
    jobs: int = 8,
    only: Callable[[FleetFork], bool] = lambda _: True,
) -> Plan:
    """Query every fork's upstream and branch (``jobs`` at a time) and decide which are due."""
    plan = Plan()
    configs: dict[str, Config] = {}
    for fork in (f for f in fleet.forks if only(f)):
        try:
            configs[fork.name] = _config(fleet, fork)
        except ForksyncError as exc:
            plan.problems.append(f"{fork.name}: {exc}")
    with tempfile.TemporaryDirectory(prefix="forksync-plan-") as tmp:
        remote = _Remote(Path(tmp))
        urls = sorted({c.upstream.url for c in configs.values()})
        forks = [f for f in fleet.forks if f.name in configs]
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            tag_jobs = {url: pool.submit(remote.tags, url) for url in urls}
            head_jobs = {f.name: pool.submit(remote.head, f.url, configs[f.name].fork.branch) for f in forks}
            for fork in forks:
                config = configs[fork.name]
                line = _one(fork, config, tag_jobs[config.upstream.url].exception(), head_jobs[fork.name])
                if line:
                    plan.problems.append(line)
                    continue
                tags = tag_jobs[config.upstream.url].result()
                if config.upstream.release_source != "tags":  # forge releases: the job asks the forge
                    owner, _, repo = fork.repository.partition("/")
                    reason = f"release-source = {config.upstream.release_source}: its job decides"
                    plan.due.append(Entry(fork.name, fork.repository, owner, repo, "", reason))
                    continue
                releases = stable_releases(tags, config)
                if not releases:
                    plan.problems.append(
                        f"{fork.name}: no stable release among {len(tags)} upstream tags matches "
                        f"'{config.upstream.release_tags}'"
                    )
                    continue
                tip = head_jobs[fork.name].result()
                assert tip is not None
                due, reason = decide(releases, tip, (state or {}).get(fork.name))
                if due:
                    owner, _, repo = fork.repository.partition("/")
                    plan.due.append(Entry(fork.name, fork.repository, owner, repo, releases[0].tag, reason))
                else:
                    plan.settled.append({"name": fork.name, "reason": reason})
        plan.git_calls = remote.calls
    order = {f.name: i for i, f in enumerate(fleet.forks)}
    plan.problems.sort(key=lambda line: order.get(line.partition(":")[0], len(order)))
    return plan


def _one(fork: FleetFork, config: Config, tags_error: BaseException | None, head: Any) -> str:
    """The problem line for a fork whose upstream or branch could not be read, else ''."""
    if tags_error is not None:
        return f"{fork.name}: cannot list upstream tags of {config.upstream.url}: {_short(tags_error)}"
    if head.exception() is not None:
        return f"{fork.name}: {_short(head.exception())} ({fork.url})"
    if head.result() is None:
        return f"{fork.name}: the fork has no branch '{config.fork.branch}' ({fork.url})"
    return ""


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return redact(text)[:300]


def github_output(plan: Plan, size: int = MATRIX_LIMIT, chunks: int = 1) -> str:
    """Lines for $GITHUB_OUTPUT: ``matrix-<i>`` for each of ``chunks`` matrix jobs (an empty
    matrix is ``{"include": []}``, which the job's `if:` skips), and ``due``."""
    import json

    matrices = plan.matrices(size)
    if len(matrices) > chunks:
        over = sum(len(m["include"]) for m in matrices[chunks:])
        plan.problems.append(
            f"{over} due fork(s) beyond the workflow's {chunks} matrix job(s) of {size}: "
            "run `forksync init --fleet --force` again to add matrix jobs"
        )
    lines = [f"due={len(plan.due)}"]
    for i in range(chunks):
        matrix = matrices[i] if i < len(matrices) else {"include": []}
        lines.append(f"matrix-{i}={json.dumps(matrix, separators=(',', ':'))}")
    return "\n".join(lines) + "\n"
