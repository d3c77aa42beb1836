"""How a resolved file that is not the committed one differs from it: a loss, or an alternative.

A replay scores a resolved file "wrong" whenever its bytes differ from what the merge committed.
Not every such difference loses anything: the committed file may not parse (a person committed
conflict markers or broken code), both may mean the same (the same JSON value written another
way, the same Python code with other comments), the same lines may stand in another order, or the
committed file may be the merge plus text nobody wrote on either side (a person's edit on top of
the merge). Each of those is recognised by a mechanical test named below; whatever passes none
of them is a loss. The tests are strict on purpose: a difference is only called an alternative
when no line that either side wrote is gained or lost by it.
"""

from __future__ import annotations

import ast
import json
import tomllib
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from .resolve.conflicts import decode

Difference = Literal["committed-broken", "same-meaning", "order-only", "committed-edit", "loss"]
ALTERNATIVES: tuple[Difference, ...] = ("committed-broken", "same-meaning", "order-only", "committed-edit")
DIFFERENCES: tuple[Difference, ...] = (*ALTERNATIVES, "loss")

_MARKERS = ("<<<<<<< ", ">>>>>>> ")


def classify(path: str, got: bytes, want: bytes, sides: tuple[bytes, bytes, bytes]) -> Difference:
    """``got`` (the engine's file) against ``want`` (the committed one); ``sides`` = base, fork, upstream."""
    got_text, want_text = decode(got), decode(want)
    parse = _parser(path)
    got_value = _parsed(parse, got_text)
    if got_value is not _BROKEN and not _has_markers(got_text):
        if _has_markers(want_text) or (parse is not None and _parsed(parse, want_text) is _BROKEN):
            return "committed-broken"
        if parse is not None and got_value == _parsed(parse, want_text):
            return "same-meaning"
    got_lines, want_lines = Counter(got_text.splitlines()), Counter(want_text.splitlines())
    if got_lines == want_lines:
        return "order-only"
    if _only_new_edits(got_lines, want_lines, sides):
        return "committed-edit"
    return "loss"


def _only_new_edits(got: Counter[str], want: Counter[str], sides: tuple[bytes, bytes, bytes]) -> bool:
    """The committed file gains only lines neither side has, and loses only lines all three share.

    That is a person's edit on top of the merge (an "evil merge"): nothing either side wrote was
    kept by one and dropped by the other.
    """
    base, fork, upstream = (set(decode(s).splitlines()) for s in sides)
    gained, lost = want - got, got - want
    if any(line in fork or line in upstream for line in gained):
        return False
    return all(line in base and line in fork and line in upstream for line in lost)


def _has_markers(text: str) -> bool:
    return any(line.startswith(_MARKERS) for line in text.splitlines())


_BROKEN = object()


def _parsed(parse: Callable[[str], Any] | None, text: str) -> Any:
    """The file's meaning, ``_BROKEN`` when it does not parse, None when there is no parser."""
    if parse is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning from odd escapes in old test files
            return parse(text)
    except Exception:  # each parser raises its own error types; any of them means "does not parse"
        return _BROKEN


def _python(text: str) -> str:
    """The syntax tree, without comments and layout, and with each import's names in one order.

    ``from m import a, b`` and ``from m import b, a`` bind the same names to the same objects.
    """
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            node.names.sort(key=lambda alias: (alias.name, alias.asname or ""))
    return ast.dump(tree)


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML  # only a replay needs it

    return list(YAML(typ="safe", pure=True).load_all(text))


def _parser(path: str) -> Callable[[str], Any] | None:
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".py", ".pyi")):
        return _python
    if name.endswith(".json"):
        return json.loads
    if name.endswith(".toml"):
        return tomllib.loads
    if name.endswith((".yaml", ".yml")):
        return _yaml
    return None
