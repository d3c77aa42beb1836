"""git's clean merges, not trusted blindly: duplicates and parse failures the merge introduced.

When both sides add the same key to a JSON/TOML/YAML file in different places, or the same
import or definition to a Python module, `git merge` sees two unrelated insertions and merges
them without a conflict: the result has a duplicate key (TOML and YAML no longer load; JSON
silently keeps the last value) or a second definition that shadows the first. So for every
file changed on both sides (base..fork and base..upstream) that git merged cleanly, the merged
file must still parse, and hold no duplicate key, top-level definition or import that neither
side had alone.

Only reported, never rewritten: this runs after the merge commit, and which copy of a duplicate
is right (the fork's or upstream's value, placement, comments) is the reviewer's call, or the
agent's, to whom findings are handed like any failing check. Fast: two `git diff --name-only`,
three `git ls-tree`, and one `git cat-file --batch` for the files changed on both sides whose
merge took neither side whole.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Collection

from ..git import Git, cat_blobs
from ..report import Finding

__all__ = ["clean_merge_findings", "file_findings"]

CHECKED = (".json", ".toml", ".yaml", ".yml", ".py", ".pyi")

# A checker: the text's duplicates as {name: count}, or a parse error (message, line).
Dups = Counter[str]
ParseError = tuple[str, int]


def clean_merge_findings(
    git: Git, base: str | None, fork: str, upstream: str, merged: str, skip: Collection[str]
) -> list[Finding]:
    """Findings for the files git merged cleanly (``skip`` = the conflicted paths)."""
    if not base or git.is_ancestor(upstream, fork):
        return []

    def changed(side: str) -> set[str]:
        out = git.run("diff", "--name-only", "-z", "--no-renames", "--diff-filter=AM", base, side).out
        return {p for p in out.split("\0") if p.lower().endswith(CHECKED)}

    paths = set(changed(fork) & changed(upstream)) - set(skip)
    if not paths:
        return []
    trees = [_blob_ids(git, rev, paths) for rev in (fork, upstream, merged)]
    # Where the merge took one side whole, nothing was merged that could duplicate: no read.
    todo = sorted(
        p for p in paths if all(p in t for t in trees) and trees[2][p] not in (trees[0][p], trees[1][p])
    )
    blobs = cat_blobs(git, [t[p] for p in todo for t in trees])
    findings: list[Finding] = []
    for p in todo:
        texts = [blobs.get(t[p]) for t in trees]
        if all(x is not None for x in texts):
            findings += file_findings(
                p, *(x.decode("utf-8", "surrogateescape") for x in texts if x is not None)
            )
    return findings


def _blob_ids(git: Git, rev: str, paths: Collection[str]) -> dict[str, str]:
    """path -> blob id at ``rev``, for the given paths (one `git ls-tree`)."""
    out: dict[str, str] = {}
    for rec in git.run("ls-tree", "-r", "-z", "--full-tree", rev).out.split("\0"):
        meta, _, path = rec.partition("\t")
        parts = meta.split()
        if path in paths and len(parts) == 3 and parts[1] == "blob":
            out[path] = parts[2]
    return out


def file_findings(path: str, fork: str, upstream: str, merged: str) -> list[Finding]:
    """What the merge of one file introduced that neither side had. Pure."""
    check = _checker(path)
    if check is None:
        return []
    got = check(merged)
    if not isinstance(got, tuple) and all(n < 2 for n in got.values()):
        return []  # loads, and nothing appears twice: the sides need no parse
    sides = [check(fork), check(upstream)]
    if isinstance(got, tuple):
        if any(isinstance(s, tuple) for s in sides):
            return []  # a side did not parse either: not the merge's doing
        message, line = got
        kind = "clean-merge-duplicate" if _is_duplicate_error(message) else "clean-merge-parse"
        return [
            Finding(
                kind, f"git merged {path} cleanly but it no longer loads: {message}", path=path, line=line
            )
        ]
    before = [s for s in sides if isinstance(s, Counter)]
    out = []
    for name, n in sorted(got.items()):
        most = max((s[name] for s in before), default=0)
        if n > max(most, 1):
            what = "key" if not path.lower().endswith((".py", ".pyi")) else "top-level name"
            out.append(
                Finding(
                    "clean-merge-duplicate",
                    f"git merged {path} cleanly but {what} '{name}' now appears {n} times "
                    f"(the fork had it {sides[0][name] if isinstance(sides[0], Counter) else 0}, "
                    f"upstream {sides[1][name] if isinstance(sides[1], Counter) else 0}): both sides added it",
                    path=path,
                    line=_last_line(merged, name),
                )
            )
    return out


def _checker(path: str) -> Callable[[str], Dups | ParseError] | None:
    lower = path.lower()
    parsers = {".json": _json, ".toml": _toml, ".yaml": _yaml, ".yml": _yaml, ".py": _python, ".pyi": _python}
    parse = next((f for ext, f in parsers.items() if lower.endswith(ext)), None)
    if parse is None:
        return None

    def guarded(text: str) -> Dups | ParseError:
        """Upstream text is untrusted: whatever a parser raises (deep nesting, odd bytes) is a
        parse failure of that text, never a crash of the verification."""
        try:
            return parse(text)
        except (RecursionError, MemoryError, ValueError) as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}", 0

    return guarded


def _json(text: str) -> Dups | ParseError:
    dups: Dups = Counter()

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        seen = Counter(k for k, _ in items)
        dups.update({k: n for k, n in seen.items() if n > 1})
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=pairs)
    except ValueError as exc:
        return str(exc), getattr(exc, "lineno", 0)
    return dups


def _toml(text: str) -> Dups | ParseError:
    """tomllib refuses a duplicate key or table outright ("Cannot overwrite", "declare … twice")."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        return str(exc), int(found.group(1)) if found else 0
    return Counter()


def _yaml(text: str) -> Dups | ParseError:
    """ruamel.yaml refuses duplicate keys (DuplicateKeyError), as YAML 1.2 requires."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        list(YAML(typ="safe", pure=True).load_all(text))
    except YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
        lines = [ln for ln in str(exc).splitlines() if ln.strip() and "yaml.dev" not in ln]
        message = next((ln.strip() for ln in lines if "duplicate" in ln), lines[0].strip() if lines else "")
        return message, (mark.line + 1 if mark is not None else 0)
    return Counter()


def _python(text: str) -> Dups | ParseError:
    """Names bound by the module's own top-level def, class and import statements (an import
    counts by its dotted name, so `import os` and `import os.path` are two; `@overload` stubs and
    `_` are not counted: repeating them is the idiom)."""
    try:
        tree = ast.parse(text.encode("utf-8", "surrogateescape"))  # the bytes: a coding cookie counts
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg}", exc.lineno or 0
    names: Dups = Counter()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not any(_is_overload(d) for d in node.decorator_list):
                names[node.name] += 1
        elif isinstance(node, ast.ClassDef):
            names[node.name] += 1
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names if a.name != "*")
    names.pop("_", None)
    return names


def _is_overload(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "overload") or (
        isinstance(node, ast.Attribute) and node.attr == "overload"
    )


def _is_duplicate_error(message: str) -> bool:
    return any(word in message for word in ("overwrite", "twice", "duplicate"))


def _last_line(text: str, name: str) -> int:
    """The line of the name's last occurrence (the second copy, usually), 0 if not found."""
    last = 0
    pattern = re.compile(rf"(?<![\w.]){re.escape(name.rsplit('.', 1)[-1])}(?!\w)")
    for n, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            last = n
    return last
