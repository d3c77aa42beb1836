"""Did the fork's customizations survive the sync? Static checks plus the fork's own tests.

A merge that compiles and passes upstream's tests can still silently break the fork: a call
site in an automatically merged file passing a removed argument, a fork helper that lost its
only caller, a hunk dropped by a resolution in either direction. Each check is one module;
this entry point runs them on the four snapshots and returns the findings as report data.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ..config import Config
from ..errors import GitError
from ..forked import Forked
from ..git import Git
from ..report import Finding
from ..secrets import redact
from .callsites import broken_calls
from .context import Sides
from .fork_tests import TIMEOUT, TestRun, cannot_run, fork_added_tests, fork_test_findings
from .fork_tests import run_tests as run_tests_in
from .lost_changes import lost_fork_changes, lost_upstream_changes
from .manifest import check_features, load_features
from .orphans import orphans
from .trees import WORKTREE

__all__ = ["WORKTREE", "verify"]


def _commit(git: Git, rev: str, what: str) -> str:
    sha = git.rev_parse(rev)
    if sha is None:
        raise GitError(f"cannot verify: {what} {rev!r} is not a commit in {git.cwd}")
    return sha


def verify(
    repo: Path,
    config: Config,
    *,
    fork_before: str,
    upstream: str,
    merged: str = "HEAD",
    base: str | None = None,
    run_tests: bool = True,
    open_paths: Collection[str] = (),
    notes: list[str] | None = None,
) -> list[Finding]:
    """Findings about the merge ``merged`` (a commit, or WORKTREE for the checked-out files);
    ``notes`` collects what could not be checked and is no finding (see the fork's tests below).

    ``open_paths`` are the files left for review (committed with conflict markers): they do not
    parse, so nothing is derived from them or reported about them; the review lists them already.
    """
    git = Git(repo)
    fork_sha = _commit(git, fork_before, "fork commit")
    upstream_sha = _commit(git, upstream, "upstream commit")
    merged_rev = WORKTREE if merged == WORKTREE else _commit(git, merged, "merged commit")
    base_sha = _commit(git, base, "merge base") if base else git.merge_base(fork_sha, upstream_sha)
    if base_sha is None:
        raise GitError("cannot verify: the fork and upstream commits share no history")
    sides = Sides.build(git, config, base_sha, fork_sha, upstream_sha, merged_rev, open_paths)
    sides.features = load_features(config, sides.fork.tree)

    # The call-site check is the longest (1.0 of 1.6 s on litellm's v1.81.3 sync): it runs in a
    # child process on the other core while this one does the rest.
    with Forked(lambda: broken_calls(sides)) as calls:
        rest = orphans(sides) + lost_fork_changes(sides) + lost_upstream_changes(sides)
        run, kept, removed = _fork_tests(repo, config, sides, run_tests, notes)
        findings = calls.result() + rest
    findings = check_features(sides, run.outcomes) + findings
    findings += fork_test_findings(sides, kept, removed, run)
    return unique([f for f in findings if not sides.is_open(f.path)])


def _fork_tests(
    repo: Path, config: Config, sides: Sides, run_tests: bool, notes: list[str] | None
) -> tuple[TestRun, list[str], list[str]]:
    """The fork's own tests: (how they ran, node ids kept and run, node ids the merge removed)."""
    cannot = cannot_run(config.verify.tests) if run_tests else None
    if cannot is not None:  # no pytest here: finding the fork's tests (1 s on litellm) is moot
        if notes is not None:
            notes.append(f"the fork's tests were not run: {cannot}")
        run_tests = False
    kept, removed = fork_added_tests(sides, kept_too=run_tests)
    run = TestRun()
    if run_tests:
        nodes = [*(n for f in sides.features for n in f.tests), *kept]
        nodes = [n for n in dict.fromkeys(nodes) if not sides.is_open(n.split("::", 1)[0])]
        timeout = min(TIMEOUT, config.checks.timeout)
        run = run_tests_in(repo, nodes, config.verify.tests, timeout=timeout)
        if run.problem and config.verify.tests is True:
            # Nobody said how the fork's tests run, and forksync's own interpreter could not run them
            # (no pytest, the fork's dependencies missing): one note, not a finding. A command set in
            # [verify] tests that cannot run is a finding: the user asked for those tests.
            if notes is not None:
                notes.append(
                    f"the fork's {run.nodes} test(s) were not run: {run.problem}; set [verify] tests to "
                    "the command that runs them in the fork's environment, or tests = false"
                )
            run = TestRun()
    return run, (kept if run_tests else []), removed


def unique(findings: list[Finding]) -> list[Finding]:
    """Each finding once (same kind, place and message), its secrets redacted. The line counts:
    two call sites broken alike are two places to fix."""
    seen: set[tuple[str, str, int, str]] = set()
    out: list[Finding] = []
    for finding in findings:
        finding.message = redact(finding.message)
        key = (finding.kind, finding.path, finding.line, finding.message)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out
