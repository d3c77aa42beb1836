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


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)


def _header_diff(sides: Sides, side: Project, path: str) -> set[str]:
    """Names of the definitions whose header (decorators included) differs between the side's copy
    of ``path`` and the merged one: text only, no parse; a superset of the changed signatures."""
    if sides.merged.tree.read(path) is None or side.tree.read(path) is None:
        return set()  # added or deleted: every call to it either resolves or does not, as on that side
    a, b = sides.merged.headers(path), side.headers(path)
    return {name for name, _ in (a - b) + (b - a)}


class _Changed:
    """Which names have a definition whose header differs from a side's copy. The side with fewer
    differing files is read at once; the other only in the files that define a name asked about
    (on litellm's v1.81.0 sync the fork differs from the merge in 2 files, upstream in 526)."""

    def __init__(self, sides: Sides, differs: dict[Project, set[str]]) -> None:
        self.sides = sides
        self.eager = min(differs, key=lambda side: len(differs[side]))
        self.eager_paths = {p: n for p in differs[self.eager] if (n := _header_diff(sides, self.eager, p))}
        self.eager_names = {n for names in self.eager_paths.values() for n in names}
        self.lazy_defines: dict[str, list[str]] = {}
        lazy = next(side for side in differs if side is not self.eager)
        lazy.tree.prefetch(differs[lazy])
        for path in differs[lazy]:
            for name in set(_DEFINES.findall(lazy.tree.text(path) or "")):
                self.lazy_defines.setdefault(name, []).append(path)
        self._lazy: dict[str, set[str]] = {}

    def names(self, side: Project) -> set[str] | None:
        """Every changed name against ``side`` when known at once (None for the lazy side)."""
        return self.eager_names if side is self.eager else None

    def against(self, side: Project, name: str) -> bool:
        if side is self.eager:
            return name in self.eager_names
        for path in self.lazy_defines.get(name, ()):
            if path not in self._lazy:
                self._lazy[path] = _header_diff(self.sides, side, path)
            if name in self._lazy[path]:
                return True
        return False


class _AnyWord:
    """Does a text hold one of these words (whole)? A few words are first looked for as plain
    substrings (C speed): a regex starting with `\\b` is tried at every position (0.19 s over
    the 291 files of litellm's v1.81.3 sync, for one word)."""

    def __init__(self, words: set[str]) -> None:
        self.words = sorted(words)
        self.rx = re.compile(r"\b(?:" + "|".join(map(re.escape, self.words)) + r")\b")

    def search(self, text: str) -> bool:
        if len(self.words) <= 32 and not any(word in text for word in self.words):
            return False
        return self.rx.search(text) is not None


def _any_word(words: set[str]) -> _AnyWord | None:
    return _AnyWord(words) if words else None


class _SameText:
    """Is a call's text (all its lines) in a side's copy of the file, with the same imports of the
    names it uses? Then that side made the same call: it fit there unless its target changed.
    Text, not a parse of each side's copy (3 parses of a 290 kB module cost more than the check)."""

    def __init__(self, sides: Sides, path: str) -> None:
        self.lines = [" ".join(line.split()) for line in (sides.merged.tree.text(path) or "").split("\n")]
        mine = {line for line in self.lines if line.startswith(("import ", "from "))}
        self.sides: list[tuple[set[str], set[str]]] = []
        for side in (sides.fork, sides.upstream):
            theirs = {" ".join(line.split()) for line in (side.tree.text(path) or "").split("\n")}
            imports = {line for line in theirs if line.startswith(("import ", "from "))}
            self.sides.append((theirs, set(_WORD.findall(" ".join(mine ^ imports)))))

    def __call__(self, call: Call) -> bool:
        span = self.lines[call.line - 1 : max(call.end_line, call.line)]
        words: set[str] | None = None
        for lines, changed_imports in self.sides:
            if all(line in lines for line in span):
                words = set(_WORD.findall(" ".join(span))) if words is None else words
                if not words & changed_imports:
                    return True
        return False


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
    changed = _Changed(sides, differs)
    merged_both = differs[sides.fork] & differs[sides.upstream]
    eager_names = changed.eager_names
    grep = sorted(
        n for n in eager_names if not n.startswith("__")
    )  # a changed __init__ is named by its class
    pool = set(sides.merged.tree.grep_files(grep)) if grep else set()
    pool |= differs[sides.fork] | differs[sides.upstream]
    pool -= merged_both | sides.open_paths
    sides.merged.tree.prefetch(pool)
    eager_rx = _any_word(eager_names)
    imports = _any_word(_import_words(sides.merged, {(p, "") for p in changed.eager_paths}))

    def relevant(path: str, name: str) -> bool:
        """Could a call of ``name`` in ``path`` break newly? Only through a definition changed
        against every side whose copy the merged file is (against either, in a file of both)."""
        if path in merged_both:
            return any(changed.against(side, name) for side in pair)
        return all(changed.against(side, name) for side in pair if path not in differs[side])

    candidates = set(merged_both)
    for path in pool:
        needs_eager = path not in differs[changed.eager]
        if not needs_eager:
            candidates.add(path)  # a file of the eager side taken from the other: its calls decide
            continue
        text = sides.merged.tree.text(path) or ""
        if imports is not None and eager_rx is not None and imports.search(text) and eager_rx.search(text):
            candidates.add(path)
    memo: dict[tuple[str, str], bool] = {}

    def signature_changed(path: str, qualname: str) -> bool:
        if (path, qualname) not in memo:
            memo[(path, qualname)] = _signature_changed(sides, differs, path, qualname)
        return memo[(path, qualname)]

    findings: list[Finding] = []
    for info in sides.merged.files(sorted(candidates), calls=True):
        path = info.path
        same = _SameText(sides, path) if path in merged_both else None
        preexisting: set[CallKey] | None = None
        for call in info.calls:
            if not call.is_call or call.target is None:
                continue
            changed_call = same is not None and not same(call)
            if not changed_call and not relevant(path, call.name):
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
            if _key(path, call) in preexisting:
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
