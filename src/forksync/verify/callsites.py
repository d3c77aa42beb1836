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
from .pyindex import Call, Signature, is_bound, mismatch, module_names
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
    info = project.file(path, calls=True)
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


def _changed_names(sides: Sides, side: Project, paths: set[str]) -> dict[str, set[str]]:
    """Per path, the names of definitions whose header (decorators included) differs between the
    side's copy and the merged one: text only, no parse. A superset of the changed signatures."""
    side.tree.prefetch(paths)
    out: dict[str, set[str]] = {}
    for path in paths:
        merged, mine = sides.merged.tree.text(path), side.tree.text(path)
        if merged is None or mine is None:
            continue  # added or deleted: every call to it either resolves or does not, as on that side
        a, b = sides.merged.headers(path), side.headers(path)
        names = {name for name, _ in (a - b) + (b - a)}
        if names:
            out[path] = names
    return out


def _word_regex(words: set[str]) -> re.Pattern[str] | None:
    return re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(words))) + r")\b") if words else None


def broken_calls(sides: Sides) -> list[Finding]:
    """Only calls that could newly break are resolved. A call in a file the merge took whole from a
    side stands as it stood there unless its target's signature differs from that side's: such a
    file is checked only for calls to names whose definition's header differs from that side's.
    Files differing from both sides have every changed call checked (on litellm's v1.81.0 sync,
    resolving every call of every file that named any changed definition took 37 s)."""
    git, merged_rev = sides.git, sides.merged.tree.rev
    pair = (sides.fork, sides.upstream)
    differs = {
        side: set(changed_paths(git, side.tree.rev, merged_rev, ["*.py"])) - sides.open_paths for side in pair
    }
    sides.merged.tree.prefetch(differs[sides.fork] | differs[sides.upstream])
    changed = {side: _changed_names(sides, side, paths) for side, paths in differs.items()}
    names = {side: {n for found in changed[side].values() for n in found} for side in pair}
    merged_both = differs[sides.fork] & differs[sides.upstream]
    small = min(pair, key=lambda side: len(names[side]))
    grep = sorted(
        n for n in names[small] if not n.startswith("__")
    )  # a changed __init__ is named by its class
    pool = set(sides.merged.tree.grep_files(grep)) if grep else set()
    pool |= differs[sides.fork] | differs[sides.upstream]
    pool -= merged_both | sides.open_paths
    sides.merged.tree.prefetch(pool)
    patterns = {side: _word_regex(names[side]) for side in pair}
    imports = _word_regex(_import_words(sides.merged, {(p, "") for side in pair for p in changed[side]}))

    def relevant(path: str) -> set[str]:
        """Names a call in ``path`` must have to possibly break newly: changed against every side
        whose copy the merged file is."""
        if path in merged_both:
            return names[sides.fork] | names[sides.upstream]
        needed = [side for side in pair if path not in differs[side]]
        return set.intersection(*(names[side] for side in needed))

    candidates = set(merged_both)
    for path in pool:
        text = sides.merged.tree.text(path) or ""
        needed = [side for side in pair if path not in differs[side]]
        if imports is None or not imports.search(text):
            continue  # cannot import a changed definition's module (by name)
        if all((rx := patterns[side]) is not None and rx.search(text) for side in needed):
            candidates.add(path)
    memo: dict[tuple[str, str], bool] = {}

    def signature_changed(path: str, qualname: str) -> bool:
        if (path, qualname) not in memo:
            memo[(path, qualname)] = _signature_changed(sides, differs, path, qualname)
        return memo[(path, qualname)]

    findings: list[Finding] = []
    for info in sides.merged.files(sorted(candidates), calls=True):
        path = info.path
        wanted = relevant(path)
        side_calls: set[CallKey] | None = None
        if path in merged_both:
            side_calls = {_key(path, c) for p in pair for c in _calls(p, path)}
        preexisting: set[CallKey] | None = None
        for call in info.calls:
            key = _key(path, call)
            changed_call = side_calls is not None and key not in side_calls
            if not changed_call and call.name not in wanted:
                continue  # the same call to an unchanged definition: as on the side it came from
            problem = _problem(sides.merged, call)
            if problem is None:
                continue
            def_path, qualname, reason = problem
            if sides.is_open(def_path):
                continue
            if not changed_call and not signature_changed(def_path, qualname):
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


def _signature_changed(sides: Sides, differs: dict[Project, set[str]], path: str, qualname: str) -> bool:
    """Does the merged signature differ from that of a side whose copy of ``path`` differs?"""
    now = _signature(sides.merged, path, qualname)
    if now is None:
        return False
    before = {_signature(side, path, qualname) for side, paths in differs.items() if path in paths}
    return bool(before - {now, None})


def _calls(project: Project, path: str) -> list[Call]:
    info = project.file(path, calls=True)
    return info.calls if info else []
