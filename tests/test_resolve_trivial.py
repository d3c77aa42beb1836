"""trivial: same change, whitespace-only differences, one side only reformatted."""

from __future__ import annotations

import json
from pathlib import Path

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.model import Context, Hunk, Versions
from forksync.resolve.trivial import TrivialResolver, format_key
from tests.test_engine import conflict_repo, resolve, unmerged


def _only_rule(output: str) -> list[str]:
    return [h["rule"] for f in json.loads(output)["files"] for h in f["hunks"]]


def test_fork_reformat_only_takes_upstreams_change(tmp_path: Path) -> None:
    base = "start();\ncall(a,b);\nend();\n"
    fork = "start();\ncall( a, b );\nend();\n"
    up = "start();\ncall(a,c);\nend();\n"
    repo = conflict_repo(tmp_path, {"x.js": base}, {"x.js": fork}, {"x.js": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert _only_rule(result.output) == ["trivial:fork-reformat-only"]
    assert repo.read("x.js") == up
    assert not unmerged(repo)


def test_upstream_reformat_only_keeps_forks_change(tmp_path: Path) -> None:
    base = "int f() {\n  return g(1,2);\n}\n"
    fork = "int f() {\n  return g(1,3);\n}\n"
    up = "int f() {\n    return g(1, 2);\n}\n"
    repo = conflict_repo(tmp_path, {"f.c": base}, {"f.c": fork}, {"f.c": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert _only_rule(result.output) == ["trivial:upstream-reformat-only"]
    assert repo.read("f.c") == fork


def test_whitespace_only_difference_takes_upstream_formatting(tmp_path: Path) -> None:
    base = "a = 1\nb = compute(x)\nc = 3\n"
    fork = "a = 1\nb = compute(y)   \nc = 3\n"
    up = "a = 1\nb = compute( y )\nc = 3\n"
    repo = conflict_repo(tmp_path, {"w.py": base}, {"w.py": fork}, {"w.py": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert _only_rule(result.output) == ["trivial:whitespace-only"]
    assert repo.read("w.py") == up


def test_fork_line_ending_change_is_kept_with_upstreams_content(tmp_path: Path) -> None:
    base = b"one\ntwo\nthree\n"
    fork = b"one\ntwo\r\nthree\n"  # the fork only changed the ending of "two"
    up = b"one\nTWO\nthree\n"
    repo = conflict_repo(tmp_path, {"e.txt": base}, {"e.txt": fork}, {"e.txt": up})
    assert resolve(repo).exit_code == 0
    assert (repo.path / "e.txt").read_bytes() == b"one\nTWO\r\nthree\n"


def test_python_indentation_is_not_whitespace(tmp_path: Path) -> None:
    # The fork moved z() into the block above (a real change); upstream only added trailing blanks.
    hunk = Hunk(1, ("z()\n",), ("    z()\n",), ("z()  \n",), 3)
    decision = TrivialResolver().resolve_hunk(_ctx(tmp_path), Versions("p.py", b"", b"", b""), hunk)
    assert decision is not None and decision.rule == "trivial:upstream-reformat-only"
    assert decision.lines == ("    z()\n",)
    assert format_key("p.py", ["    z()\n"]) != format_key("p.py", ["z()\n"])
    assert format_key("p.yaml", ["a:  b\n"]) != format_key("p.yaml", ["a: b\n"])  # YAML: spacing kept
    assert format_key("p.js", ["  x( 1 )\n"]) == format_key("p.js", ["x(1)\n"])
    assert format_key("p.js", ['s = "a  b";\n']) != format_key("p.js", ['s = "a b";\n'])  # strings exact


def test_change_inside_string_is_not_a_reformat(tmp_path: Path) -> None:
    hunk = Hunk(1, ('msg = "a  b"\n',), ('msg = "a b"\n',), ('msg = "a  b"  # note\n',), 1)
    decision = TrivialResolver().resolve_hunk(_ctx(tmp_path), Versions("m.py", b"", b"", b""), hunk)
    assert decision is None


def test_same_change_and_one_sided_hunks(tmp_path: Path) -> None:
    ctx, v = _ctx(tmp_path), Versions("s.txt", b"", b"", b"")
    same = TrivialResolver().resolve_hunk(ctx, v, Hunk(1, ("a\n",), ("b\n", "c\n"), ("b\n", "c\n"), 1))
    assert same is not None and same.rule == "trivial:same-change" and same.lines == ("b\n", "c\n")
    fork_only = TrivialResolver().resolve_hunk(ctx, v, Hunk(1, ("a\n",), ("b\n",), ("a\n",), 1))
    assert fork_only is not None and fork_only.lines == ("b\n",)
    assert TrivialResolver().resolve_hunk(ctx, v, Hunk(1, ("a\n",), ("b\n",), ("c\n",), 1)) is None


def test_genuine_conflict_is_not_trivial(tmp_path: Path) -> None:
    repo = conflict_repo(
        tmp_path,
        {"g.md": "Title\n\ntext\n"},
        {"g.md": "Title\n\nfork text\n"},
        {"g.md": "Title\n\nupstream text\n"},
    )
    result = resolve(repo, "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["files"][0]["hunks"][0]["outcome"] == "unresolved"


def _ctx(tmp_path: Path) -> Context:
    return Context(tmp_path, Git(tmp_path), Config())
