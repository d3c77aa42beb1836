"""JSON key-level merges: bytes in, bytes out, one real `git merge`, and properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.engine import apply_results, read_conflicts, resolve_all
from forksync.resolve.model import Context, Versions
from forksync.resolve.structured_json import JsonResolver, merge_json
from forksync.resolve.threeway import Decline, Notes
from tests.gitutil import Repo


def resolve(base: str | None, fork: str, upstream: str, path: str = "package.json") -> Any:
    v = Versions(path, None if base is None else base.encode(), fork.encode(), upstream.encode())
    ctx = Context(repo=Path("."), git=Git("."), config=Config())
    return JsonResolver().resolve_file(ctx, v)


BASE = """{
    "name": "app",
    "version": "1.0.0",
    "scripts": {
        "test": "jest"
    },
    "files": ["dist"],
    "keywords": [
        "a"
    ]
}
"""


def test_disjoint_changes_keep_upstream_bytes_and_place_fork_keys_after_their_predecessor() -> None:
    fork = BASE.replace('"test": "jest"', '"test": "jest",\n        "fork:build": "make fork"')
    fork = fork.replace('"name": "app",', '"name": "app",\n    "private": true,')
    upstream = BASE.replace('"1.0.0"', '"2.0.0"').replace('"jest"', '"vitest"')
    d = resolve(BASE, fork, upstream)
    assert d is not None and d.rule == "json" and d.confidence == 1.0
    assert d.content.decode() == (
        upstream.replace('"name": "app",', '"name": "app",\n    "private": true,').replace(
            '"test": "vitest"', '"test": "vitest",\n        "fork:build": "make fork"'
        )
    )
    assert "scripts.fork:build: added by the fork" in d.details
    assert "version: changed by upstream" in d.details


def test_same_key_changed_differently_declines_naming_the_key() -> None:
    d = resolve(BASE, BASE.replace("1.0.0", "1.0.0-fork"), BASE.replace("1.0.0", "2.0.0"))
    assert d is not None and d.confidence == 0.0 and d.content is None
    assert "version" in d.reason and "differently" in d.reason


def test_both_sides_appended_to_an_array_keeps_both_others_decline() -> None:
    fork = BASE.replace('["dist"]', '["dist", "fork.js"]')
    upstream = BASE.replace('["dist"]', '["dist", "types"]')
    d = resolve(BASE, fork, upstream)
    assert json.loads(d.content)["files"] == ["dist", "types", "fork.js"]
    assert 0.9 <= d.confidence < 1.0
    # one side rewrote the array, the other appended: no safe answer
    d2 = resolve(BASE, BASE.replace('["dist"]', '["lib"]'), upstream)
    assert d2.confidence == 0.0 and "files" in d2.reason


def test_only_one_side_changed_array_takes_that_side() -> None:
    fork = BASE.replace('"a"\n', '"a",\n        "b"\n')
    upstream = BASE.replace('"1.0.0"', '"1.1.0"')
    d = resolve(BASE, fork, upstream)
    assert d.content.decode() == upstream.replace('"a"\n', '"a",\n        "b"\n')


def test_duplicate_keys_and_invalid_json_decline() -> None:
    dup = BASE.replace('"name": "app",', '"name": "app",\n    "name": "other",')
    d = resolve(BASE, dup, BASE.replace("1.0.0", "2.0.0"))
    assert d.confidence == 0.0 and "duplicate key 'name'" in d.reason
    d = resolve(BASE, "{not json", BASE.replace("1.0.0", "2.0.0"))
    assert d.confidence == 0.0 and "not valid JSON" in d.reason


def test_layout_is_kept_tabs_crlf_compact_and_no_final_newline() -> None:
    base = '{\n\t"a": 1,\n\t"b": {\n\t\t"c": 2\n\t}\n}'
    fork = '{\n\t"a": 1,\n\t"b": {\n\t\t"c": 2\n\t},\n\t"f": {"x": [1]}\n}'
    upstream = '{\n\t"a": 5,\n\t"b": {\n\t\t"c": 2\n\t}\n}'
    d = resolve(base, fork, upstream)
    assert d.content.decode() == '{\n\t"a": 5,\n\t"b": {\n\t\t"c": 2\n\t},\n\t"f": {"x": [1]}\n}'
    crlf = resolve(base.replace("\n", "\r\n"), fork.replace("\n", "\r\n"), upstream.replace("\n", "\r\n"))
    assert crlf.content == d.content.replace(b"\n", b"\r\n")
    compact = resolve('{"a":1,"b":2}', '{"a":1,"b":2,"c":{"d":[1,2]}}', '{"a":0,"b":2}')
    assert compact.content == b'{"a":0,"b":2,"c":{"d":[1,2]}}'
    nested = resolve(base, fork.replace('{"x": [1]}', '{\n\t\t"x": 1\n\t}'), upstream.replace("\t", "    "))
    assert (
        nested.content.decode()
        == '{\n    "a": 5,\n    "b": {\n        "c": 2\n    },\n    "f": {\n        "x": 1\n    }\n}'
    )


def test_add_add_merges_disjoint_keys_with_lower_confidence() -> None:
    d = resolve(None, '{\n  "a": 1\n}\n', '{\n  "b": 2\n}\n')
    assert d.content == b'{\n  "a": 1,\n  "b": 2\n}\n'  # no predecessor in the fork: first
    assert d.confidence == 0.95


def test_not_json_paths_are_passed_on() -> None:
    assert resolve(BASE, BASE, BASE, path="tsconfig.jsonc") is None
    assert resolve(BASE, BASE, BASE, path="data.yaml") is None


def test_real_git_merge_resolved_through_the_engine(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"package.json": BASE, "README": "x\n"}, "base")
    repo.git("checkout", "-q", "-b", "upstream")
    upstream = BASE.replace('"1.0.0"', '"2.0.0"').replace('["dist"]', '["dist", "types"]')
    repo.commit({"package.json": upstream}, "upstream 2.0.0")
    repo.git("checkout", "-q", "main")
    fork = (
        BASE.replace('"1.0.0"', '"1.0.0"')
        .replace('"jest"', '"jest --fork"')
        .replace('["dist"]', '["dist", "x"]')
    )
    repo.commit({"package.json": fork, "README": "fork\n"}, "fork change")
    assert "CONFLICT" in repo.git("merge", "upstream", check=False)
    ctx = Context(repo=repo.path, git=Git(repo.path), config=Config(), new_version="2.0.0")
    results = resolve_all(ctx, read_conflicts(ctx.git))
    assert [(r.path, r.outcome, r.rule) for r in results] == [("package.json", "resolved", "json")]
    apply_results(ctx, results)
    assert repo.git("diff", "--name-only", "--diff-filter=U") == ""
    merged = json.loads(repo.read("package.json"))
    assert merged["version"] == "2.0.0" and merged["scripts"]["test"] == "jest --fork"
    assert merged["files"] == ["dist", "types", "x"]
    assert repo.read("README") == "fork\n"


# -- properties ---------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "name", "x-y", "ü"])
SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), st.none(), st.text("abz ", max_size=4), st.just(1.5))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)
DOCS = st.dictionaries(KEYS, VALUES, max_size=5)
INDENTS = st.sampled_from([2, 4, "\t", -2, -4])


@st.composite
def edits(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with a few key-level edits: change, add, delete, nested change."""
    out = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(KEYS)
        action = draw(st.sampled_from(["set", "delete", "nested"]))
        if action == "delete":
            out.pop(key, None)
        elif action == "nested" and isinstance(out.get(key), dict):
            out[key][draw(KEYS)] = draw(SCALARS)
        else:
            out[key] = draw(VALUES)
    return out


def dump(value: Any, indent: int | str) -> bytes:
    """Pretty JSON; with a negative indent, arrays of scalars stay on one line (prettier-like)."""
    if isinstance(indent, int) and indent < 0:
        return (_mixed(value, " " * -indent, "") + "\n").encode()
    return (json.dumps(value, indent=indent, ensure_ascii=False) + "\n").encode()


def _mixed(value: Any, unit: str, at: str) -> str:
    if isinstance(value, list) and all(not isinstance(x, dict | list) for x in value):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list) and value:
        inner = at + unit
        items = value.items() if isinstance(value, dict) else [(None, x) for x in value]
        body = ",\n".join(
            inner
            + (json.dumps(k, ensure_ascii=False) + ": " if k is not None else "")
            + _mixed(v, unit, inner)
            for k, v in items
        )
        return (
            ("{" if isinstance(value, dict) else "[")
            + "\n"
            + body
            + "\n"
            + at
            + ("}" if isinstance(value, dict) else "]")
        )
    return json.dumps(value, ensure_ascii=False)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data(), DOCS, INDENTS)
def test_property_one_sided_and_identical_changes_give_that_change(
    data: st.DataObject, base: Any, ind: Any
) -> None:
    changed = dump(data.draw(edits(base)), ind)
    b = dump(base, ind)
    for fork, upstream in ((changed, changed), (b, changed)):
        assert merge_json(b, fork, upstream, Notes()) == changed  # byte-exact: upstream's text is kept
    merged = merge_json(b, changed, b, Notes())
    assert json.loads(merged) == json.loads(changed)
    assert list(json.loads(merged)) == list(json.loads(changed))


@FAST
@given(st.data(), DOCS, INDENTS)
def test_property_keys_added_by_one_side_survive(data: st.DataObject, base: Any, ind: Any) -> None:
    fork, upstream = data.draw(edits(base)), data.draw(edits(base))
    fork["fork-only"] = data.draw(VALUES)
    upstream["upstream-only"] = data.draw(VALUES)
    try:
        merged = json.loads(merge_json(dump(base, ind), dump(fork, ind), dump(upstream, ind), Notes()))
    except Decline as exc:
        assert "differently" in str(exc)  # only a real collision may decline; losing a key never
        return
    assert merged["fork-only"] == fork["fork-only"]
    assert merged["upstream-only"] == upstream["upstream-only"]


@FAST
@given(DOCS, KEYS, SCALARS, SCALARS, INDENTS)
def test_property_different_changes_to_one_key_are_never_resolved(
    base: Any, key: str, one: Any, other: Any, ind: Any
) -> None:
    fork, upstream = dict(base), dict(base)
    fork[key], upstream[key] = f"fork {one}", f"upstream {other}"
    with pytest.raises(Decline):
        merge_json(dump(base, ind), dump(fork, ind), dump(upstream, ind), Notes())
