"""Broken call sites: calls whose arguments no longer fit the definition after the merge.

The case that motivated it: upstream removed a parameter in a conflicted file, and a call in a
file git merged automatically kept passing it (a TypeError at run time). Only definitions
whose signature the merge changed, and calls the merge changed, are checked, and a mismatch
that either side already had is not reported: near zero false alarms on purpose.
"""

from __future__ import annotations

import re

from ..report import Finding
from .context import Sides
from .project import Project
from .pyindex import Call, Signature, def_headers, is_bound, mismatch, module_names
from .trees import changed_paths

CallKey = tuple[str, str, tuple[str, str] | None, int, tuple[str, ...], bool, bool]


def _key(path: str, call: Call) -> CallKey:
    return (
        path,
        call.caller,
        call.target,
        call.positional,
        tuple(sorted(call.keywords)),
        call.star,
        call.starstar,
    )


def _signature(project: Project, path: str, qualname: str) -> Signature | None:
    info = project.file(path)
    found = info.defs.get(qualname) if info else None
    return found.signature if found else None


def _problem(project: Project, call: Call) -> tuple[str, str, str] | None:
    """(path, qualname, reason) when ``call`` does not fit what it resolves to in ``project``."""
    if not call.is_call or call.target is None:
        return None
    where = project.locate(call.target)
    if where is None:
        return None
    path, qualname = where
    info = project.file(path)
    definition = info.defs.get(qualname) if info else None
    if definition is None or definition.signature is None:
        return None
    reason = mismatch(definition.signature, call, is_bound(definition, call.via))
    return (path, qualname, reason) if reason else None


def _problems_at(project: Project, path: str) -> set[CallKey]:
    info = project.file(path)
    if info is None:
        return set()
    return {_key(path, c) for c in info.calls if _problem(project, c)}


def _import_words(project: Project, defs: set[tuple[str, str]]) -> set[str]:
    """Words a file must contain to import these definitions: each module's own name, and the name of
    every enclosing package whose ``__init__`` re-exports from it."""
    words: set[str] = set()
    for path, _ in defs:
        names = module_names(path)
        parts = names[-1].split(".") if names else []
        if not parts:
            continue
        words.add(parts[-1])
        for i in range(len(parts) - 1, 0, -1):
            init = project.modules.get(".".join(parts[:i]))
            text = project.tree.text(init) if init else None
            if not text or not re.search(rf"\b{re.escape(parts[i])}\b", text):
                break
            words.add(parts[i - 1])
    return words


def _headers_differ(sides: Sides, differs: dict[Project, set[str]], path: str) -> bool:
    """Could a signature in ``path`` differ between the merge and a side? Not when every side
    that differs has the same def headers (text only: most changed files need no parse)."""
    merged = sides.merged.tree.text(path)
    if merged is None:
        return False
    mine = def_headers(merged)
    return any(
        (text := side.tree.text(path)) is None or def_headers(text) != mine
        for side, paths in differs.items()
        if path in paths
    )


def broken_calls(sides: Sides) -> list[Finding]:
    git, merged_rev = sides.git, sides.merged.tree.rev
    differs = {
        side: set(changed_paths(git, side.tree.rev, merged_rev, ["*.py"]))
        for side in (sides.fork, sides.upstream)
    }
    for paths in differs.values():
        paths -= sides.open_paths  # a file with conflict markers defines and calls nothing we can know
    touched = sorted(differs[sides.fork] | differs[sides.upstream])
    for side, paths in differs.items():
        side.tree.prefetch(paths)
    sides.merged.tree.prefetch(touched)
    changed_defs: set[tuple[str, str]] = set()
    for info in sides.merged.files([p for p in touched if _headers_differ(sides, differs, p)]):
        # a side whose copy equals the merged one cannot disagree on a signature: not parsed
        others = [side for side, paths in differs.items() if info.path in paths]
        for qualname, definition in info.defs.items():
            if definition.signature is None:
                continue
            before = {_signature(side, info.path, qualname) for side in others}
            if before - {definition.signature, None}:
                changed_defs.add((info.path, qualname))
    names = sorted({q.rsplit(".", 1)[-1] for _, q in changed_defs} - {""})
    names = [n for n in names if not n.startswith("__")]  # a changed __init__ is searched by its class
    reached = set(sides.merged.tree.grep_files(names)) if names else set()
    if reached:  # keep only files that can import a changed definition's module (by name)
        reached &= set(sides.merged.tree.grep_files(sorted(_import_words(sides.merged, changed_defs))))
    # A file whose merged copy is one side's copy has that side's calls: a call there can only
    # newly break through a changed definition, and such a file names it (``reached``). Only
    # files that differ from both sides need every call checked.
    merged_both = differs[sides.fork] & differs[sides.upstream]
    candidates = sorted(merged_both | reached)

    findings: list[Finding] = []
    infos = sides.merged.files(candidates)
    sides.merged.prefetch_targets(infos)
    for info in infos:
        path = info.path
        side_calls: set[CallKey] | None = None
        preexisting: set[CallKey] | None = None
        for call in info.calls:
            problem = _problem(sides.merged, call)
            if problem is None:
                continue
            def_path, qualname, reason = problem
            if sides.is_open(def_path):
                continue
            key = _key(path, call)
            if side_calls is None:
                side_calls = {_key(path, c) for p in (sides.fork, sides.upstream) for c in _calls(p, path)}
            if (def_path, qualname) not in changed_defs and key in side_calls:
                continue  # neither the definition nor the call changed in the merge
            if preexisting is None:
                preexisting = _problems_at(sides.fork, path) | _problems_at(sides.upstream, path)
            if key in preexisting:
                continue  # already broken before the merge: not this merge's doing
            commit = sides.blame(merged_rev, path, call.line)
            findings.append(
                Finding(
                    kind="broken-call",
                    message=f"call to {qualname} ({def_path}) {reason}",
                    feature=sides.feature_for(path, commit) or sides.feature_for(def_path),
                    path=path,
                    line=call.line,
                    commit=commit,
                )
            )
    return findings


def _calls(project: Project, path: str) -> list[Call]:
    info = project.file(path)
    return info.calls if info else []
