"""Python hunks where both sides only added things at the same place: statements, functions,
class members, import lines or names, dict entries, list items, keyword arguments.

Each side of the hunk is cut into items at the hunk's own indentation level (a decorator or
comment belongs to the item below it; deeper lines belong to the item above). tree-sitter
confirms on the fork's whole file that the hunk covers whole children of one syntax node, so
an item is a real statement, member or element. When every base item survives unchanged on
both sides, the result is the base items with the checked-out side's additions first, then the
other side's, each added only once; two different additions with the same name are a real conflict. The
engine still checks that the whole file parses.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from .finer import MAX_LINES
from .history import batch_for
from .learned import additions_order
from .model import Context, Decision, Hunk, Versions
from .paths import is_test_file

# Where both sides added at one place, the checked-out (HEAD) side's additions come first:
# replaying CartoDB/litellm's own merges, people kept that order in 40 hunks out of 43.
_CLOSER = re.compile(r"^\s*[)\]}]")
_NAME = re.compile(
    r"^\s*(?:async\s+def|def|class)\s+(\w+)"  # definitions
    r"|^\s*([A-Za-z_][\w.]*(?:\[[^\]\n]*\])*)\s*(?::[^=]*)?=(?!=)"  # assignments, keyword arguments
    r"|^\s*(['\"][^'\"]*['\"])\s*:"  # dict entries with string keys
    r"|^\s*(?:from\s+([\w.]+)\s+)?import\s+([\w., ]+?)\s*(?:#.*)?$"  # import lines
    r"|^\s*(?:await\s+)?([A-Za-z_][\w.]*)\s*\("  # calls: the callee
)
# Syntax nodes whose children are separated by commas: an item followed by another needs one.
_COMMA_LISTS = {
    "list",
    "dictionary",
    "set",
    "tuple",
    "argument_list",
    "import_from_statement",
    "parameters",
    "expression_list",
    "subscript",
    "pattern_list",
    "type_parameter",
}
# Two additions at one place this alike are two versions of one change, not two changes.
_ALIKE = 0.8
_FROM_IMPORT = re.compile(
    r"^([ \t]*)from[ \t]+([\w.]+)[ \t]+import[ \t]+(\(?)[ \t]*([^()#\r\n]*?)[ \t]*(,?)[ \t]*(\)?)"
    r"([ \t]*#[^\r\n]*)?(\r?\n)?\Z"
)


def split_items(lines: Sequence[str]) -> list[str] | None:
    """The hunk as items at its outermost indentation level, or None when it starts mid-item."""
    code = [line for line in lines if line.strip()]
    if not code:
        return [] if not lines else None
    level = min(len(line) - len(line.lstrip()) for line in code)
    items: list[list[str]] = []
    pending: list[str] = []  # blank lines, decorators, comments: they lead the next item
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            pending.append(line)
            continue
        starts = indent == level and not _CLOSER.match(line)
        if starts:
            pending.append(line)
            if stripped.startswith(("@", "#")):
                continue
            items.append(pending)
            pending = []
        elif not items:
            return None  # the hunk begins inside an item (a continuation line)
        else:
            items[-1].extend(pending)
            items[-1].append(line)
            pending = []
    if pending:
        if any(line.strip() for line in pending):
            return None  # a trailing decorator or comment with nothing under it
        items.append(pending)  # trailing blank lines stay an item of their own
    return ["".join(item) for item in items]


def item_name(item: str) -> str | None:
    for line in item.splitlines():
        s = line.strip()
        if not s or s.startswith(("@", "#")):
            continue
        m = _NAME.match(line)
        if m is None:
            return None
        return next(g for g in m.groups() if g)
    return None


def _alike(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if not a or not b:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= _ALIKE


def _commas_ok(items: list[str]) -> bool:
    """Every item that another item follows ends with a comma (else `"a"` `"b"` would silently concatenate)."""
    code = [item for item in items if item.strip()]
    for item in code[:-1]:
        last = next(line for line in reversed(item.splitlines()) if line.strip())
        if not _strip_comment(last).rstrip().endswith(","):
            return False
    return True


def _strip_comment(line: str) -> str:
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _additions(base: list[str], side: list[str]) -> dict[int, list[str]] | None:
    """Items the side inserted, by base gap; None when it changed or removed a base item."""
    out: dict[int, list[str]] = {}
    matcher = difflib.SequenceMatcher(None, base, side, autojunk=False)
    for op, i1, _i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op != "insert":
            return None
        out.setdefault(i1, []).extend(side[j1:j2])
    return out


def merge_additions(
    base: list[str], fork: list[str], up: list[str], *, fork_first: bool = True
) -> tuple[list[str], bool] | None:
    """Base items with both sides' insertions; also whether both inserted at one place."""
    fa, ua = _additions(base, fork), _additions(base, up)
    if fa is None or ua is None:
        return None
    out: list[str] = []
    shared = False
    # A name both sides added (anywhere in the hunk) with different content fills one slot twice:
    # `x = 1` and `x = 2` kept together is a silent override, not two additions.
    up_names = {item_name(i): i for gap_items in ua.values() for i in gap_items if item_name(i)}
    for item in (i for gap_items in fa.values() for i in gap_items):
        name = item_name(item)
        if name and name in up_names and up_names[name].strip() != item.strip():
            return None
    for gap in range(len(base) + 1):
        ups, forks = ua.get(gap, []), fa.get(gap, [])
        added = []
        for item in forks:
            if item in ups and item.strip():
                continue  # both sides added the same item
            if item_name(item) is None and any(
                item_name(other) is None and _alike(item, other) for other in ups
            ):
                return None  # unnamed (e.g. a bare expression): judge by likeness
            added.append(item)
        shared = shared or bool(ups and added and any(i.strip() for i in added))
        if fork_first:  # the fork's additions in its own order, then upstream's that it lacks
            out.extend([*forks, *(i for i in ups if not (i in forks and i.strip()))])
        else:
            out.extend([*ups, *added])
        if gap < len(base):
            out.append(base[gap])
    return out, shared


_LITERAL = re.compile(r"^(?:None|True|False|-?[\d.]+|''|\"\"|\[\]|\{\}|\(\))$")
_KEYWORD = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)\s*(.*?)\s*,?\s*(?:#.*)?$", re.S)


def _same_argument(base: list[str], fork: list[str], up: list[str]) -> bool:
    """Do both sides' new call arguments fill one slot? Two positional arguments at one place
    (the second shifts every later one), or one value passed under two keyword names (the
    same argument renamed: keeping both raises TypeError, or passes it twice)."""
    fa = [i for i in fork if i.strip() and i not in base and i not in up]
    ua = [i for i in up if i.strip() and i not in base and i not in fork]
    if not fa or not ua:
        return False

    def positional(item: str) -> bool:
        return _KEYWORD.match(item) is None and not item.strip().startswith(("*", "#"))

    if any(positional(i) for i in fa) and any(positional(i) for i in ua):
        return True
    values: dict[str, str] = {}
    for item in ua:
        m = _KEYWORD.match(item)
        if m and not _LITERAL.match(m.group(2)):  # `a=None`, `b=None` say nothing of a shared slot
            values.setdefault(" ".join(m.group(2).split()), m.group(1))
    for item in fa:
        m = _KEYWORD.match(item)
        if m and values.get(" ".join(m.group(2).split()), m.group(1)) != m.group(1):
            return True
    return False


def _container(ctx: Context, v: Versions, hunk: Hunk) -> str | None:
    """The syntax node whose children the fork's hunk lines cover exactly (tree-sitter), if any."""
    rows = [hunk.fork_start - 1 + k for k, line in enumerate(hunk.fork) if line.strip()]
    if not rows or hunk.fork_start < 1:
        return None
    first, last = rows[0], rows[-1]
    key = f"python-syntax:tree:{v.path}"
    cached = ctx.cache.get(key)
    if not (isinstance(cached, tuple) and cached[0] is v.fork):  # one Context may see many merges
        cached = (v.fork, _parse(v.fork or b""))
        ctx.cache[key] = cached
    tree: Any = cached[1]
    if tree is None:
        return None
    node = tree.root_node
    while True:
        inside = [c for c in node.children if c.end_point.row >= first and c.start_point.row <= last]
        if len(inside) == 1 and (inside[0].start_point.row < first or inside[0].end_point.row > last):
            node = inside[0]
            continue
        break
    if not inside:
        return None
    if any(c.start_point.row < first or c.end_point.row > last for c in inside):
        return None
    return str(node.type)


def _parse(data: bytes) -> Any:
    try:
        import tree_sitter_python
        from tree_sitter import Language, Parser
    except ImportError:  # pragma: no cover - both are dependencies
        return None
    parser = Parser(Language(tree_sitter_python.language()))
    tree = parser.parse(data)
    return None if tree.root_node.has_error else tree


def _from_import(line: str) -> tuple[str, str, list[str], re.Match[str]] | None:
    m = _FROM_IMPORT.match(line)
    if m is None:
        return None
    names = [n.strip() for n in m.group(4).split(",") if n.strip()]
    return m.group(1), m.group(2), names, m


class PythonSyntaxResolver:
    name = "python-syntax"

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None:
        if not v.path.endswith((".py", ".pyi")) or v.base is None:
            return None  # two files created independently are not additions at one place
        if len(hunk.base) + len(hunk.fork) + len(hunk.upstream) > MAX_LINES:
            return None
        if len(hunk.base) == len(hunk.fork) == len(hunk.upstream) == 1:
            decision = self._import_names(hunk)
            if decision is not None:
                return decision
        base, fork, up = split_items(hunk.base), split_items(hunk.fork), split_items(hunk.upstream)
        if base is None or fork is None or up is None or not fork or not up:
            return None
        fork_first = ctx.head == "fork"
        merged = merge_additions(base, fork, up, fork_first=fork_first)
        if merged is None:
            return None
        items, shared = merged
        convention = ""
        if shared:  # both added at one place: in the order this repository's people use
            checked_out_first, convention = additions_order(ctx, batch_for(ctx, v.path).paths)
            if not checked_out_first:  # the merged-in side first
                fork_first = not fork_first
                items, shared = merge_additions(base, fork, up, fork_first=fork_first) or merged
        if _moved(base, fork, hunk.upstream, v.upstream) or _moved(base, up, hunk.fork, v.fork):
            return None
        if _named_elsewhere(base, fork, hunk.upstream, hunk.base, v.upstream, v.base) or _named_elsewhere(
            base, up, hunk.fork, hunk.base, v.fork, v.base
        ):
            return None
        kind = _container(ctx, v, hunk)
        if kind is None or (kind in _COMMA_LISTS and not _commas_ok(items)):
            return None
        if shared and kind == "argument_list" and _same_argument(base, fork, up):
            return None
        what = {
            "module": "top-level statements",
            "block": "statements or class members",
            "import_from_statement": "imported names",
            "dictionary": "dict entries",
            "list": "list items",
            "argument_list": "call arguments",
            "set": "set items",
            "tuple": "tuple items",
        }.get(kind, kind)
        first, then = ("the fork's", "upstream's") if fork_first else ("upstream's", "the fork's")
        order = f"{first} additions first ({convention}), then {then}" if shared else "each at its own place"
        lines = tuple(line for item in items for line in item.splitlines(keepends=True))
        why = f"both sides only added {what} ({_count(base, fork)} fork, {_count(base, up)} upstream)"
        doubt = _alternatives(base, fork, up) if shared else None
        if doubt is None and shared and _both_add_tests(v.path, base, fork, up):
            doubt = (
                "both sides added tests at one place, and people kept only one side's in 11 of 26 "
                "such litellm hunks (tests of behaviour the other side changed): review which apply"
            )
        if doubt:
            return Decision("python-syntax", 0.6, f"{why}, but {doubt}", lines=lines)
        return Decision("python-syntax", 0.9, f"{why}; kept both, {order}", lines=lines)

    @staticmethod
    def _import_names(hunk: Hunk) -> Decision | None:
        parsed = [_from_import(side[0]) for side in (hunk.base, hunk.fork, hunk.upstream)]
        if any(p is None for p in parsed):
            return None
        (_bi, bmod, bnames, _bm), (_fi, fmod, fnames, _fm), (uind, umod, unames, um) = parsed  # type: ignore[misc]
        if not bmod == fmod == umod or not set(bnames) <= set(fnames) or not set(bnames) <= set(unames):
            return None
        names = [*unames, *(n for n in fnames if n not in unames)]
        if names == unames:
            return None
        opened, closed = um.group(3), um.group(6)
        comma = um.group(5) if opened else ""
        line = f"{uind}from {umod} import {opened}{', '.join(names)}{comma}{closed}{um.group(7) or ''}{um.group(8) or ''}"
        added = [n for n in fnames if n not in unames and n not in bnames]
        return Decision(
            "python-syntax:import-names",
            0.95,
            f"both sides added names to 'from {umod} import': kept upstream's, then the fork's "
            f"({', '.join(added)})",
            lines=(line,),
        )


_FILLER = {'"""', "'''", "pass", "return", "else:", "try:", "finally:", "return None", "@pytest.mark.asyncio"}
# Two sides' additions sharing this share of their lines are two versions of one change.
_SHARED_LINES = 0.3
_TEST_ITEM = re.compile(r"^\s*(?:async\s+def|def|class)\s+(?:test|Test)", re.M)


def _significant(items: Sequence[str], base: Sequence[str]) -> set[str]:
    """The added items' lines that say something (not blank, not a lone quote or keyword)."""
    out = set()
    for item in items:
        if item in base:
            continue
        for line in item.splitlines():
            s = " ".join(line.split())
            if len(s) > 3 and s not in _FILLER:
                out.add(s)
    return out


def _alternatives(base: list[str], fork: list[str], up: list[str]) -> str | None:
    """Why two sets of additions look like two versions of one change (None: they look independent)."""
    f = _significant([i for i in fork if i not in up], base)
    u = _significant([i for i in up if i not in fork], base)
    if not f or not u:
        return None
    share = len(f & u) / min(len(f), len(u))
    if share < _SHARED_LINES:
        return None
    return f"their additions share {share:.0%} of their lines: two versions of one change, not two changes"


def _both_add_tests(path: str, base: list[str], fork: list[str], up: list[str]) -> bool:
    def adds_test(side: list[str]) -> bool:
        return any(_TEST_ITEM.search(item) for item in side if item not in base)

    return is_test_file(path) and adds_test(fork) and adds_test(up)


def _key_line(item: str) -> str | None:
    for line in item.splitlines():
        s = line.strip()
        if s and not s.startswith(("@", "#")):
            return s
    return None


def _moved(base: list[str], side: list[str], other_hunk: Sequence[str], other_file: bytes | None) -> bool:
    """Does an item this side added already sit elsewhere in the other side's file (moved there)?"""
    added = {_key_line(item) for item in side if item not in base} - {None}
    if not added or other_file is None:
        return False
    counts: dict[str, int] = {}
    for line in other_file.decode("utf-8", "surrogateescape").split("\n"):
        s = line.strip()
        if s in added:
            counts[s] = counts.get(s, 0) + 1
    for line in other_hunk:
        s = line.strip()
        if s in counts:
            counts[s] -= 1
    return any(n > 0 for n in counts.values())


def _named_elsewhere(
    base: list[str],
    side: list[str],
    other_hunk: Sequence[str],
    base_hunk: Sequence[str],
    other_file: bytes | None,
    base_file: bytes | None,
) -> bool:
    """Did the other side also define or assign a name this side added, outside the hunk?
    git merged that part cleanly, so keeping this side's item would define the name twice."""
    names = {item_name(item) for item in side if item not in base} - {None}
    names = {n for n in names if n and re.fullmatch(r"[A-Za-z_][\w.]*(?:\[[^\]\n]*\])*", n)}
    if not names or other_file is None:
        return False

    def count(lines: Sequence[str], name: str) -> int:
        pattern = re.compile(
            rf"^\s*(?:(?:async\s+)?def\s+|class\s+){re.escape(name)}\b"
            rf"|^\s*{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)"
        )
        return sum(1 for line in lines if pattern.match(line))

    other = other_file.decode("utf-8", "surrogateescape").split("\n")
    old = (base_file or b"").decode("utf-8", "surrogateescape").split("\n")
    return any(
        count(other, n) - count(other_hunk, n) > count(old, n) - count(base_hunk, n) for n in names if n
    )


def _count(base: list[str], side: list[str]) -> int:
    return sum(1 for item in side if item.strip()) - sum(1 for item in base if item.strip())
