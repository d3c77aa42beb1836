"""Orphans: definitions the fork added that had callers before the merge and have none after.

The case that motivated it: a fork helper survived the merge byte for byte, but a conflict
resolution dropped its only call, so the feature silently did nothing.
"""

from __future__ import annotations

from ..report import Finding
from ..resolve.paths import is_test_file
from .context import Sides
from .project import Project
from .trees import changed_paths


def uses(project: Project, files: list[str], path: str, qualname: str) -> list[tuple[str, int]]:
    """Where the definition is called or referenced from, outside itself and outside tests."""
    name = qualname.rsplit(".", 1)[-1]
    method = "." in qualname
    out: list[tuple[str, int]] = []
    for info in project.files(files):
        if is_test_file(info.path):
            continue
        for call in info.calls:
            if call.name != name:
                continue
            if info.path == path and (call.caller == qualname or call.caller.startswith(qualname + ".")):
                continue  # recursion, or a class using its own members
            if call.target is None:
                if method or not call.is_call:
                    out.append((info.path, call.line))  # `obj.method()`: cannot tell; count it
                continue
            if project.locate(call.target) == (path, qualname):
                out.append((info.path, call.line))
    return out


def _skip(qualname: str) -> bool:
    name = qualname.rsplit(".", 1)[-1]
    return name.startswith("__") or name.startswith("test")


def orphans(sides: Sides) -> list[Finding]:
    base_rev, fork_rev = sides.base.tree.rev, sides.fork.tree.rev
    added: list[tuple[str, str]] = []
    fork_paths = [
        p
        for p in changed_paths(sides.git, base_rev, fork_rev, ["*.py"])
        if not is_test_file(p) and not sides.is_open(p)
    ]
    sides.base.tree.prefetch(fork_paths)  # one `git cat-file --batch`, not one per file
    for info in sides.fork.files(fork_paths):
        before = sides.base.file(info.path)
        known = set(before.defs) if before else set()
        added += [(info.path, q) for q in info.defs if q not in known and not _skip(q)]
    if not added:
        return []
    names = sorted({q.rsplit(".", 1)[-1] for _, q in added})
    fork_files = sides.fork.tree.grep_files(names)
    merged_files = sides.merged.tree.grep_files(names)
    findings: list[Finding] = []
    sides.merged.tree.prefetch(path for path, _ in added)
    for path, qualname in added:
        merged_file = sides.merged.file(path)
        still = merged_file.defs.get(qualname) if merged_file else None
        if still is None:
            continue  # gone entirely: a lost fork change, reported as such
        callers = uses(sides.fork, fork_files, path, qualname)
        if not callers or any(sides.is_open(p) for p, _ in callers):
            continue  # a caller's file has conflict markers: whether the call survived is for the review
        if uses(sides.merged, merged_files, path, qualname):
            continue
        fork_def = sides.fork.file(path)
        line = fork_def.defs[qualname].line if fork_def else still.line
        commit = sides.blame(fork_rev, path, line)
        was = ", ".join(f"{p}:{n}" for p, n in callers[:3])
        findings.append(
            Finding(
                kind="orphan",
                message=f"fork's {qualname} is still defined but no longer called (before the merge: {was})",
                feature=sides.feature_for(path, commit),
                path=path,
                line=still.line,
                commit=commit,
            )
        )
    return findings
