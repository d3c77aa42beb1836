"""The fork's own tests, found by diff and run with pytest in the merged worktree.

Test functions present in the fork and absent from both the base and the release are the
fork's; together with the manifest's tests they run in one pytest process, with secrets
removed from its environment (the merged code is partly upstream's, untrusted) and a timeout.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..checks import run_check
from ..errors import ConfigError
from ..report import CheckRecord, Finding
from ..resolve.paths import is_test_file
from .context import Sides
from .trees import changed_paths, git_lines

TIMEOUT = 600.0
ARGV_CHARS = 100_000  # past this many characters of node ids, pass their files instead
FOLD_FROM = 4  # this many tests failing alike (or gone from one file) are one finding
# pytest's last line, quiet ("3 passed in 0.1s") or not ("=== 1 failed, 2 passed in 0.1s ===")
_SUMMARY = re.compile(r"^=*\s*(?:\d+ \w+(?:, )?)+ in [\d.]+s\b.*$", re.M)
_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+?)(?: - (.*))?$", re.M)


def test_ids(project_file_defs: dict[str, object], path: str) -> set[str]:
    ids: set[str] = set()
    for qualname in project_file_defs:
        parts = qualname.split(".")
        if parts[-1].startswith("test") and (len(parts) == 1 or parts[0].startswith("Test")):
            ids.add(f"{path}::{'::'.join(parts)}")
    return ids


def fork_added_tests(sides: Sides, kept_too: bool = True) -> tuple[list[str], list[str]]:
    """(node ids still in the merged tree, node ids the merge removed). Without ``kept_too`` only
    the removed ones: they are in files the merge changed, which spares parsing the others."""
    paths = [
        p
        for p in changed_paths(sides.git, sides.base.tree.rev, sides.fork.tree.rev, ["*.py"])
        if is_test_file(p) and not sides.is_open(p)
    ]
    if not kept_too:
        changed = set(changed_paths(sides.git, sides.fork.tree.rev, sides.merged.tree.rev, ["*.py"]))
        paths = [p for p in paths if p in changed]
    kept: list[str] = []
    removed: list[str] = []
    for side in (sides.fork, sides.base, sides.upstream):
        side.tree.prefetch(paths)
    paths = [p for p in paths if _may_add_tests(sides, p)]  # text first: parse only these
    sides.merged.tree.prefetch(paths)
    for info in sides.fork.files(paths):
        mine = test_ids(dict(info.defs), info.path)
        for other in (sides.base, sides.upstream):
            known = other.file(info.path)
            mine -= test_ids(dict(known.defs), info.path) if known else set()
        merged = sides.merged.file(info.path)
        present = test_ids(dict(merged.defs), info.path) if merged else set()
        kept += sorted(mine & present)
        removed += sorted(mine - present)
    return kept, removed


def _may_add_tests(sides: Sides, path: str) -> bool:
    """Does the fork's copy have a test or test-class header (decorators included) more often than
    both the base's and upstream's? A test the fork added does (or its renamed class); most changed
    test files need no parse."""
    fork = sides.fork.headers(path)
    new = [
        {name for name, _ in fork - other.headers(path) if name.startswith(("test", "Test"))}
        for other in (sides.base, sides.upstream)
    ]
    return bool(new[0] & new[1])


@dataclass(frozen=True)
class TestOutcome:
    node: str
    outcome: str  # passed | failed | error | skipped | not-run
    detail: str = ""


@dataclass(frozen=True)
class TestRun:
    """Outcome per node id; or why the tests as a whole did not run: one environment problem is
    one finding, never one per test (a missing pytest once gave 344 identical findings)."""

    outcomes: dict[str, TestOutcome] = field(default_factory=dict)
    problem: str = ""
    nodes: int = 0


def cannot_run(setting: bool | str | list[str]) -> str | None:
    """Why the default runner (forksync's own interpreter) cannot run the fork's tests, if it
    cannot; a configured command is taken at its word."""
    if setting is True and importlib.util.find_spec("pytest") is None:
        return (
            f"pytest is not installed for {sys.executable} (forksync's own interpreter); set [verify] "
            'tests to the command that runs them in the fork\'s environment (e.g. "uv run pytest"), '
            "or tests = false"
        )
    return None


def test_argv(setting: bool | str | list[str], nodes: list[str]) -> list[str] | str:
    """The command that runs ``nodes``, or why none can (``setting`` is ``[verify] tests``)."""
    if setting is True:
        if (why := cannot_run(setting)) is not None:
            return why
        prefix = [sys.executable, "-B", "-m", "pytest", "-q"]
    elif isinstance(setting, str):
        prefix = shlex.split(setting)
    else:
        prefix = list(setting) if setting else []
    if sum(len(n) + 1 for n in nodes) > ARGV_CHARS:
        nodes = list(dict.fromkeys(n.split("::", 1)[0] for n in nodes))  # whole files: same failures listed
    # -rfE lists exactly the failures and errors: a node not listed in a run that ended normally passed
    return [*prefix, "-rfE", "-p", "no:cacheprovider", "--", *nodes]


def run_tests(
    worktree: Path, nodes: list[str], setting: bool | str | list[str] = True, timeout: float = TIMEOUT
) -> TestRun:
    """Run the node ids in one test process (``forksync.checks.run_check``: no secrets, a time limit)."""
    if not nodes or setting is False:
        return TestRun()
    argv = test_argv(setting, nodes)
    if isinstance(argv, str):
        return TestRun(problem=argv, nodes=len(nodes))
    try:
        record = run_check(worktree, "fork tests", argv, timeout)
    except ConfigError as exc:  # e.g. no sandbox while secrets are in reach: the run's one problem
        return TestRun(problem=str(exc), nodes=len(nodes))
    return outcomes_of(record, nodes, timeout)


def outcomes_of(record: CheckRecord, nodes: list[str], timeout: float = TIMEOUT) -> TestRun:
    """Per-node outcomes from a pytest run's summary, or the one reason the run tells nothing."""
    text = record.output_tail
    last = (git_lines(text.strip()) or ["no output"])[-1][:200]
    command = " ".join(record.command.split(" -rfE ", 1)[0].split()[:6])
    if record.timed_out:
        return TestRun(problem=f"`{command}` timed out after {timeout:.0f}s", nodes=len(nodes))
    if record.exit_code not in (0, 1) or not (record.tests or _SUMMARY.search(text)):
        why = f"exit {record.exit_code}" if record.exit_code is not None else "did not start"
        summary = "" if record.exit_code not in (0, 1) else " without a pytest summary"
        return TestRun(problem=f"`{command}` ended ({why}){summary}: {last}", nodes=len(nodes))
    results: dict[str, TestOutcome] = {}
    rank = {"failed": 2, "error": 3}
    for word, node, detail in _OUTCOME.findall(text):
        base = node.split("[", 1)[0]
        key = next((n for n in nodes if n in (node, base)), None)
        if key is None:
            continue
        outcome = word.lower()
        if key not in results or rank.get(outcome, 0) > rank.get(results[key].outcome, 0):
            results[key] = TestOutcome(key, outcome, detail.strip())
    for node in nodes:
        results.setdefault(node, TestOutcome(node, "passed"))
    return TestRun(results, nodes=len(nodes))


def failed(outcome: TestOutcome) -> bool:
    return outcome.outcome in ("failed", "error", "not-run")


def _examples(nodes: list[str]) -> str:
    return ", ".join(nodes[:3]) + (", ..." if len(nodes) > 3 else "")


def fork_test_findings(sides: Sides, kept: list[str], removed: list[str], run: TestRun) -> list[Finding]:
    findings: list[Finding] = []
    gone: dict[str, list[str]] = {}
    for node in removed:
        gone.setdefault(node.split("::", 1)[0], []).append(node)
    for path, nodes in gone.items():
        many = len(nodes) >= FOLD_FROM
        message = (
            f"{len(nodes)} fork tests of {path} are gone after the merge ({_examples(nodes)})" if many else ""
        )
        for node in nodes[:1] if many else nodes:
            findings.append(
                Finding(
                    kind="fork-test",
                    message=message or f"fork test {node} is gone after the merge",
                    feature=sides.feature_for(path),
                    path=path,
                )
            )
    if run.problem:
        findings.append(Finding("fork-test", f"the fork's {run.nodes} test(s) did not run: {run.problem}"))
        return findings
    alike: dict[str, list[str]] = {}
    for node in kept:
        result = run.outcomes.get(node)
        if result is not None and failed(result):
            alike.setdefault(f"{result.outcome}: {result.detail}", []).append(node)
    for detail, nodes in alike.items():
        if len(nodes) >= FOLD_FROM:  # one cause (an import error, a fixture), not one finding per test
            findings.append(
                Finding(
                    "fork-test",
                    f"{len(nodes)} fork tests {detail[:200]} ({_examples(nodes)})",
                    path=_common(nodes),
                )
            )
            continue
        findings += [_failure(sides, node, run.outcomes[node]) for node in nodes]
    return findings


def _common(nodes: list[str]) -> str:
    paths = {n.split("::", 1)[0] for n in nodes}
    return paths.pop() if len(paths) == 1 else ""


def _failure(sides: Sides, node: str, result: TestOutcome) -> Finding:
    path = node.split("::", 1)[0]
    info = sides.merged.file(path)
    qual = ".".join(node.split("::")[1:])
    line = info.defs[qual].line if info and qual in info.defs else 0
    before = sides.fork.file(path)
    fork_line = before.defs[qual].line if before and qual in before.defs else 0
    commit = sides.blame(sides.fork.tree.rev, path, fork_line) if fork_line else ""
    feature = next((f.name for f in sides.features if node in f.tests), "") or sides.feature_for(path, commit)
    return Finding(
        kind="fork-test",
        message=f"fork test {node} {result.outcome}" + (f": {result.detail[:200]}" if result.detail else ""),
        feature=feature,
        path=path,
        line=line,
        commit=commit,
    )
