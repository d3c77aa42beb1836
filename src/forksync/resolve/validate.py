"""Does a merged file still parse? A result that does not is rejected when a side did."""

from __future__ import annotations

from .conflicts import decode
from .model import Versions


def _parser(path: str):  # type: ignore[no-untyped-def]
    lower = path.lower()
    if lower.endswith((".py", ".pyi")):
        import ast

        return lambda text: ast.parse(text)
    if lower.endswith(".json"):
        import json

        return lambda text: json.loads(text)
    if lower.endswith(".toml"):
        import tomllib

        return lambda text: tomllib.loads(text)
    if lower.endswith((".yaml", ".yml")):
        from ruamel.yaml import YAML

        def load(text: str) -> object:
            return list(YAML(typ="safe", pure=True).load_all(text))

        return load
    return None


def parses(path: str, data: bytes) -> str | None:
    """None when it parses (or has no parser), else the parser's message."""
    parser = _parser(path)
    if parser is None:
        return None
    try:
        parser(decode(data))
    except Exception as exc:  # any parser failure is a validation failure
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    return None


def validation_error(v: Versions, merged: bytes) -> str | None:
    """Reject a merge that does not parse, unless neither side parsed either.

    A fork whose own copy is broken still gets a person's eye: merging into broken code
    cannot be checked, and real history holds such commits."""
    problem = parses(v.path, merged)
    if problem is None:
        return None
    if all(side is None or parses(v.path, side) is not None for side in (v.fork, v.upstream)):
        return None
    return f"result does not parse ({problem})"
