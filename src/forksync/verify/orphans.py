"""Orphans: definitions the fork added that had callers before the merge and have none after.

The case that motivated it: a fork helper survived the merge byte for byte, but a conflict
resolution dropped its only call, so the feature silently did nothing.

Only a file the merge changed can have lost a call: a file the merge left as the fork had it
keeps its calls. So the fork's and the merged copies of the changed files are searched first,
and the rest of the tree only for the few definitions that already look orphaned (on litellm's
v1.81.0 sync this check took 48.7 s when it searched the whole tree for every definition).
"""

from __future__ import annotations

import re
from collections import Counter

from ..report import Finding
from ..resolve.paths import is_test_file
from .context import Sides
from .project import Project
from .trees import changed_paths

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)


def uses(project: Project, files: list[str], path: str, qualname: str) -> list[tuple[str, int]]:
    """Where the definition is called or referenced from, outside itself and outside tests."""
    name = qualname.rsplit(".", 1)[-1]
    method = "." in qualname
    out: list[tuple[str, int]] = []
    for info in project.files([f for f in files if not is_test_file(f)], calls=True):
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


def _words(project: Project, paths: list[str]) -> dict[str, Counter[str]]:
    """The identifiers in each file's text (read in one batch): a file lacking a name cannot use it."""
    project.tree.prefetch(paths)
    return {p: Counter(_WORD.findall(text)) for p in paths if (text := project.tree.text(p)) is not None}


def _new_names(sides: Sides, path: str) -> set[str]:
    """Names of the defs whose header the fork's copy has more often than the base's: text only,
    a superset of the definitions the fork added there."""
    return {name for name, _ in sides.fork.headers(path) - sides.base.headers(path)}


def orphans(sides: Sides) -> list[Finding]:
    git, base_rev, fork_rev = sides.git, sides.base.tree.rev, sides.fork.tree.rev
    changed = [
        p for p in changed_paths(git, fork_rev, sides.merged.tree.rev, ["*.py"]) if not is_test_file(p)
    ]
    if not changed:
        return []
    fork_words = _words(sides.fork, changed)  # open files too: a caller there makes the def undecidable
    merged_words = _words(sides.merged, [p for p in changed if not sides.is_open(p)])
    # A dropped call leaves its name fewer times in that file (unless the merge wrote the same
    # name anew in the same file): only those names can belong to an orphan.
    lost = {n for p, words in merged_words.items() for n in (fork_words.get(p, Counter()) - words)}
    lost |= {n for p, words in fork_words.items() if p not in merged_words for n in words}
    fork_paths = [
        p
        for p in changed_paths(git, base_rev, fork_rev, ["*.py"])
        if not is_test_file(p) and not sides.is_open(p)
    ]
    sides.fork.tree.prefetch(fork_paths)
    sides.base.tree.prefetch(fork_paths)  # one `git cat-file --batch`, not one per file
    defining = [  # a def-name scan in C first; header diffs next; parse only what is left
        p
        for p in fork_paths
        if lost.intersection(_DEFINES.findall(sides.fork.tree.text(p) or "")) and lost & _new_names(sides, p)
    ]
    added: list[tuple[str, str]] = []
    for info in sides.fork.files(defining):
        before = sides.base.file(info.path)
        known = set(before.defs) if before else set()
        added += [
            (info.path, q)
            for q in info.defs
            if q not in known and not _skip(q) and q.rsplit(".", 1)[-1] in lost
        ]
    suspects: list[tuple[str, str, list[tuple[str, int]]]] = []
    sides.merged.tree.prefetch(path for path, _ in added)
    for path, qualname in added:
        merged_file = sides.merged.file(path)
        if merged_file is None or qualname not in merged_file.defs:
            continue  # gone entirely: a lost fork change, reported as such
        name = qualname.rsplit(".", 1)[-1]
        callers = uses(sides.fork, [p for p, w in fork_words.items() if name in w], path, qualname)
        if not callers or any(sides.is_open(p) for p, _ in callers):
            continue  # no call the merge could drop; or one in a file left for review with markers
        if uses(sides.merged, [p for p, w in merged_words.items() if name in w], path, qualname):
            continue
        suspects.append((path, qualname, callers))
    if not suspects:
        return []
    # A call in a file the merge did not change is in both trees: then it was not lost.
    elsewhere = set(sides.fork.tree.grep_files([q.rsplit(".", 1)[-1] for _, q, _ in suspects])) - set(changed)
    findings: list[Finding] = []
    for path, qualname, callers in suspects:
        if uses(sides.fork, sorted(elsewhere), path, qualname):
            continue
        merged_file = sides.merged.file(path)
        still = merged_file.defs[qualname] if merged_file else None
        fork_def = sides.fork.file(path)
        line = fork_def.defs[qualname].line if fork_def else still.line if still else 0
        commit = sides.blame(fork_rev, path, line)
        was = ", ".join(f"{p}:{n}" for p, n in callers[:3])
        findings.append(
            Finding(
                kind="orphan",
                message=f"fork's {qualname} is still defined but no longer called (before the merge: {was})",
                feature=sides.feature_for(path, commit),
                path=path,
                line=still.line if still else line,
                commit=commit,
            )
        )
    return findings
