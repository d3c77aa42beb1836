"""Lost changes, both directions: hunks of one side whose added lines are gone after the merge.

Fork hunks (base -> fork) and upstream hunks (base -> release) are checked against the merged
tree. A loss is not reported when the other side carries the same lines (the same change made
upstream, reported from that side if lost), when the hunk's commit is patch-equivalent to a
commit of the other side (`git cherry`), or when a path policy says that side's copy is
deliberately not kept (keep-fork / take-upstream / regenerate).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ..report import Finding
from ..resolve.model import Context
from ..resolve.policy import policy_for
from .context import Sides
from .project import Project
from .trees import DiffHunk, changed_paths, diff_hunks, git_lines

_TRIVIAL = {"else:", "try:", "finally:", "pass", "return", "continue", "break", '"""', "'''", "...", "# noqa"}
_ALNUM = re.compile(r"[A-Za-z0-9]")
PATHSPEC_MAX = 2000  # more paths than this: diff everything and filter (a command line has limits)
_DROPPED_BY = {"lost-fork-change": {"take-upstream", "regenerate"}, "lost-upstream-change": {"keep-fork"}}


def normal(line: str) -> str:
    return " ".join(line.split())


def significant(line: str) -> bool:
    text = normal(line)
    return bool(_ALNUM.search(text)) and text not in _TRIVIAL


def _lines(project: Project, path: str) -> Counter[str] | None:
    text = project.tree.text(path)
    return None if text is None else Counter(normal(line) for line in git_lines(text))


def _equivalent_commits(sides: Sides, side: str) -> set[str]:
    """Commits of ``side`` (fork or upstream) whose patch the other side also has."""
    own, other = (sides.fork, sides.upstream) if side == "fork" else (sides.upstream, sides.fork)
    res = sides.git.run("cherry", other.tree.rev, own.tree.rev, sides.base.tree.rev, check=False)
    return {line[2:].strip() for line in git_lines(res.out) if line.startswith("- ")}


def _missing(hunk: DiffHunk, merged: Counter[str]) -> tuple[list[str], int]:
    """The hunk's added lines that the merged file lacks, and how many lines were checked."""
    old = Counter(normal(line) for line in hunk.old_lines)
    wanted = Counter(normal(line) for line in hunk.new_lines if significant(line)) - old
    missing = [line for line, n in wanted.items() if merged[line] < n]
    return missing, sum(wanted.values())


def _rewrapped(sides: Sides, hunk: DiffHunk, squashed: dict[str, str]) -> bool:
    """Is the hunk's added text in the merged file with only its line breaks or spacing changed?
    (A call the fork wrapped over three lines, joined on one by the merge, is not lost.)"""
    if hunk.path not in squashed:
        squashed[hunk.path] = _squash([sides.merged.tree.text(hunk.path) or ""])
    text = _squash(hunk.new_lines)
    return bool(text) and text in squashed[hunk.path]


def _squash(lines: Sequence[str]) -> str:
    """The text without any whitespace: what survives re-wrapping and re-spacing."""
    return "".join("".join(lines).split())


def _reformat_only(hunk: DiffHunk) -> bool:
    """A hunk whose text equals what it replaced once spacing and line breaks are ignored (a
    formatter re-wrapped a call): a merge that kept the other side's content there lost nothing."""
    old = _squash(hunk.old_lines)
    return bool(old) and old == _squash(hunk.new_lines)


def _relocated(sides: Sides, lines: list[str]) -> Counter[str] | None:
    """When the path is gone from the merged tree: the file now holding the longest line."""
    longest = max(lines, key=len)
    hits = sides.merged.tree.grep_files([longest], pathspec="*") if len(longest) >= 12 else []
    if len(hits) != 1 or sides.is_open(hits[0]):
        return None
    return _lines(sides.merged, hits[0])


def _side_losses(sides: Sides, side: str) -> list[Finding]:
    own, other = (sides.fork, sides.upstream) if side == "fork" else (sides.upstream, sides.fork)
    kind = f"lost-{side}-change"
    ctx = Context(sides.git.cwd, sides.git, sides.config)
    version_file = sides.config.version.file
    # Only a path whose merged copy differs from this side's can have lost its lines.
    differ = set(changed_paths(sides.git, own.tree.rev, sides.merged.tree.rev))
    paths = sorted(differ.intersection(changed_paths(sides.git, sides.base.tree.rev, own.tree.rev)))
    if not paths:
        return []
    spec = [f":(literal){p}" for p in paths] if len(paths) <= PATHSPEC_MAX else []
    hunks = [h for h in diff_hunks(sides.git, sides.base.tree.rev, own.tree.rev, spec) if h.path in differ]
    equivalent: set[str] | None = None
    merged_cache: dict[str, Counter[str] | None] = {}
    squashed: dict[str, str] = {}
    other_cache: dict[str, Counter[str] | None] = {}
    findings: list[Finding] = []
    hunks = [h for h in hunks if not sides.is_open(h.path) and any(significant(line) for line in h.new_lines)]
    sides.merged.tree.prefetch(h.path for h in hunks)  # one git process for every file to compare
    gone: dict[str, tuple[Finding, int]] = {}
    for hunk in hunks:
        rule = policy_for(ctx, hunk.path)
        if rule is not None and rule.policy in _DROPPED_BY[kind]:
            continue
        if hunk.path not in merged_cache:
            merged_cache[hunk.path] = _lines(sides.merged, hunk.path)
        merged = merged_cache[hunk.path]
        if merged is None and hunk.path in gone:
            gone[hunk.path] = (gone[hunk.path][0], gone[hunk.path][1] + 1)
            continue
        file_gone = merged is None
        if merged is None:
            wanted = [normal(x) for x in hunk.new_lines if significant(x)]
            merged = _relocated(sides, wanted)
            file_gone = merged is None
            merged = merged or Counter()
        if _reformat_only(hunk):
            continue  # only spacing or line breaks changed: no content of this side's to lose
        missing, checked = _missing(hunk, merged)
        if hunk.path == version_file:
            missing = [line for line in missing if "version" not in line.lower()]
        if not missing or len(missing) * 2 < checked:
            continue
        if not file_gone and _rewrapped(sides, hunk, squashed):
            continue
        if hunk.path not in other_cache:
            other_cache[hunk.path] = _lines(other, hunk.path)
        theirs = other_cache[hunk.path]
        if theirs is not None and all(theirs[line] > 0 for line in missing):
            continue  # the other side has the same lines: its own check covers them
        commit = sides.blame(own.tree.rev, hunk.path, hunk.new_start)
        if equivalent is None:
            equivalent = _equivalent_commits(sides, side)
        if commit in equivalent:
            continue
        end = hunk.new_start + len(hunk.new_lines) - 1
        where = f"{hunk.path}:{hunk.new_start}" + (f"-{end}" if end > hunk.new_start else "")
        if file_gone:  # one finding per file, not one per hunk
            first = Finding(kind, "", sides.feature_for(hunk.path, commit), hunk.path, hunk.new_start, commit)
            gone[hunk.path] = (first, 1)
            continue
        findings.append(
            Finding(
                kind=kind,
                message=(
                    f"{side} change at {where} is missing after the merge ({len(missing)} of {checked} added "
                    f"lines absent, e.g. {missing[0][:80]!r})"
                ),
                feature=sides.feature_for(hunk.path, commit),
                path=hunk.path,
                line=hunk.new_start,
                commit=commit,
            )
        )
    for path, (finding, count) in gone.items():
        finding.message = f"{path} is not in the merged tree, and with it {count} {side} change(s) to it"
        findings.append(finding)
    return findings


def lost_fork_changes(sides: Sides) -> list[Finding]:
    return _side_losses(sides, "fork")


def lost_upstream_changes(sides: Sides) -> list[Finding]:
    return _side_losses(sides, "upstream")
