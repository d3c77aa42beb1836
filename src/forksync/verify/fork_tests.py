"""The fork's own tests, found by diff and run with pytest in the merged worktree.

Test functions present in the fork and absent from both the base and the release are the
fork's; together with the manifest's tests they run in one pytest process, with secrets
removed from its environment (the merged code is partly upstream's, untrusted) and a timeout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..report import Finding
from ..resolve.paths import is_test_file
from ..secrets import redact, scrubbed_env
from .context import Sides
from .trees import changed_paths, git_lines

TIMEOUT = 600.0
_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+?)(?: - (.*))?$", re.M)


def test_ids(project_file_defs: dict[str, object], path: str) -> set[str]:
    ids: set[str] = set()
    for qualname in project_file_defs:
        parts = qualname.split(".")
        if parts[-1].startswith("test") and (len(parts) == 1 or parts[0].startswith("Test")):
            ids.add(f"{path}::{'::'.join(parts)}")
    return ids


def fork_added_tests(sides: Sides) -> tuple[list[str], list[str]]:
    """(node ids still in the merged tree, node ids the merge removed)."""
    paths = [
        p
        for p in changed_paths(sides.git, sides.base.tree.rev, sides.fork.tree.rev, ["*.py"])
        if is_test_file(p)
    ]
    kept: list[str] = []
    removed: list[str] = []
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


@dataclass(frozen=True)
class TestOutcome:
    node: str
    outcome: str  # passed | failed | error | skipped | not-run
    detail: str = ""


def run_tests(worktree: Path, nodes: list[str], timeout: float = TIMEOUT) -> dict[str, TestOutcome]:
    """Run the node ids in one pytest process; outcome per node id (parametrized cases folded)."""
    if not nodes:
        return {}
    if importlib.util.find_spec("pytest") is None:
        return {n: TestOutcome(n, "not-run", f"pytest is not installed for {sys.executable}") for n in nodes}
    env = scrubbed_env()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "--", *nodes]
    proc = subprocess.Popen(
        argv, cwd=worktree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {n: TestOutcome(n, "error", f"timed out after {timeout:.0f}s") for n in nodes}
    text = redact(out.decode("utf-8", "replace"))
    results: dict[str, TestOutcome] = {}
    rank = {"passed": 0, "skipped": 0, "xfail": 0, "xpass": 0, "failed": 2, "error": 3}
    for word, node, detail in _OUTCOME.findall(text):
        base = node.split("[", 1)[0]
        key = next((n for n in nodes if n in (node, base)), None)
        if key is None:
            continue
        outcome = word.lower()
        if key not in results or rank.get(outcome, 0) > rank.get(results[key].outcome, 0):
            results[key] = TestOutcome(key, outcome, detail.strip())
    last = (git_lines(text.strip()) or ["no output"])[-1]
    for node in nodes:
        results.setdefault(node, TestOutcome(node, "not-run", f"pytest exit {proc.returncode}: {last[:160]}"))
    return results


def failed(outcome: TestOutcome) -> bool:
    return outcome.outcome in ("failed", "error", "not-run")


def fork_test_findings(
    sides: Sides, kept: list[str], removed: list[str], outcomes: dict[str, TestOutcome]
) -> list[Finding]:
    findings: list[Finding] = []
    for node in removed:
        path = node.split("::", 1)[0]
        findings.append(
            Finding(
                kind="fork-test",
                message=f"fork test {node} is gone after the merge",
                feature=sides.feature_for(path),
                path=path,
            )
        )
    for node in kept:
        result = outcomes.get(node)
        if result is None or not failed(result):
            continue
        path = node.split("::", 1)[0]
        info = sides.merged.file(path)
        qual = ".".join(node.split("::")[1:])
        line = info.defs[qual].line if info and qual in info.defs else 0
        before = sides.fork.file(path)
        fork_line = before.defs[qual].line if before and qual in before.defs else 0
        commit = sides.blame(sides.fork.tree.rev, path, fork_line) if fork_line else ""
        feature = next((f.name for f in sides.features if node in f.tests), "") or sides.feature_for(
            path, commit
        )
        findings.append(
            Finding(
                kind="fork-test",
                message=f"fork test {node} {result.outcome}"
                + (f": {result.detail[:200]}" if result.detail else ""),
                feature=feature,
                path=path,
                line=line,
                commit=commit,
            )
        )
    return findings
