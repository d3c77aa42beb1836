"""fork-markers: marked fork sections are kept and placed into upstream's version."""

from __future__ import annotations

import json
from pathlib import Path

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.engine import Chain, resolve_versions
from forksync.resolve.markers import ForkMarkersResolver, marked_lines
from forksync.resolve.model import Context, Versions
from tests.test_engine import ISOLATE, conflict_repo, resolve, unmerged


def _hunks(output: str) -> list[dict[str, object]]:
    return [h for f in json.loads(output)["files"] for h in f["hunks"]]


BASE = "def handler(req):\n    validate(req)\n    return process(req)\n"
FORK = (
    "def handler(req):\n    validate(req)\n    # FORK: audit every request\n    audit(req)\n    # FORK END\n"
    "    return process(req)\n"
)
UP = "def handler(req):\n    validate(req, strict=True)\n    return process(req)\n"


def test_fork_block_is_placed_into_upstreams_version(tmp_path: Path) -> None:
    repo = conflict_repo(tmp_path, {"h.py": BASE}, {"h.py": FORK}, {"h.py": UP})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    [hunk] = _hunks(result.output)
    assert hunk["rule"] == "fork-markers" and "FORK: audit every request" in str(hunk["reason"])
    assert repo.read("h.py") == (
        "def handler(req):\n    validate(req, strict=True)\n    # FORK: audit every request\n    audit(req)\n"
        "    # FORK END\n    return process(req)\n"
    )
    assert not unmerged(repo)


def test_configured_marker_word_and_slash_comments(tmp_path: Path) -> None:
    base = "const a = 1;\nconst b = 2;\nexport { a, b };\n"
    fork = (
        "const a = 1;\n// CARTO BEGIN\nconst tenant = load();\n// CARTO END\nconst b = 2;\nexport { a, b };\n"
    )
    up = "const a = 10;\nconst b = 2;\nexport { a, b };\n"
    config = ISOLATE + '[fork]\nmarker = "CARTO"\n'
    repo = conflict_repo(tmp_path, {"m.js": base}, {"m.js": fork}, {"m.js": up}, config=config)
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert [h["rule"] for h in _hunks(result.output)] == ["fork-markers"]
    assert repo.read("m.js") == (
        "const a = 10;\n// CARTO BEGIN\nconst tenant = load();\n// CARTO END\nconst b = 2;\nexport { a, b };\n"
    )


def test_trailing_marker_replaces_an_unchanged_upstream_line(tmp_path: Path) -> None:
    base = "[server]\ntimeout = 30\nretries = 3\n"
    fork = "[server]\ntimeout = 60  # FORK: slow backends\nretries = 3\n"
    up = "[server]\ntimeout = 30\nretries = 5\n"
    repo = conflict_repo(tmp_path, {"s.cfg": base}, {"s.cfg": fork}, {"s.cfg": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert [h["rule"] for h in _hunks(result.output)] == ["fork-markers"]
    assert repo.read("s.cfg") == "[server]\ntimeout = 60  # FORK: slow backends\nretries = 5\n"


def test_ambiguous_place_stays_open(tmp_path: Path) -> None:
    # Upstream inserted lines exactly where the fork's block sits: before or after them?
    base = "one\ntwo\n"
    fork = "one\n# FORK: mine\nfork line\n# FORK END\ntwo\n"
    up = "one\nupstream line\ntwo\n"
    repo = conflict_repo(tmp_path, {"a.txt": base}, {"a.txt": fork}, {"a.txt": up})
    before = (repo.path / "a.txt").read_bytes()
    result = resolve(repo, "--json")
    assert result.exit_code == 1
    assert (repo.path / "a.txt").read_bytes() == before


def test_unmarked_fork_change_in_the_hunk_stays_open(tmp_path: Path) -> None:
    base = "one\ntwo\nthree\n"
    fork = "one\n# FORK: mine\nfork line\n# FORK END\nTWO by fork\nthree\n"
    up = "one\ntwo by upstream\nthree\n"
    repo = conflict_repo(tmp_path, {"b.txt": base}, {"b.txt": fork}, {"b.txt": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 1
    assert all(h["outcome"] == "unresolved" for h in _hunks(result.output))


def test_upstream_changed_the_line_the_fork_replaced(tmp_path: Path) -> None:
    base = "a\ntimeout = 30\nb\n"
    fork = "a\ntimeout = 60  # FORK\nb\n"
    up = "a\ntimeout = 45\nb\n"
    repo = conflict_repo(tmp_path, {"c.txt": base}, {"c.txt": fork}, {"c.txt": up})
    assert resolve(repo).exit_code == 1


def test_marked_lines_kinds() -> None:
    lines = [
        "x = 1\n",  # 0
        "# FORK: block\n",  # 1
        "y = 2\n",  # 2
        "# FORK END\n",  # 3
        "z = 3  # FORK\n",  # 4
        "# FORK: a paragraph without END\n",  # 5
        "w = 4\n",  # 6
        "\n",  # 7
        "v = 5\n",  # 8
        "s = '# FORKED is not a marker'\n",  # 9
    ]
    assert marked_lines(lines, "FORK") == [False, True, True, True, True, True, True, False, False, False]
    assert marked_lines(["/* CARTO START */\n", "a\n", "/* END CARTO */\n", "b\n"], "CARTO") == [
        True,
        True,
        True,
        False,
    ]


def test_one_context_serves_many_merges_of_a_path(tmp_path: Path) -> None:
    # A backtest replays many merges with one Context: caches must follow the fork blob, not the path.
    ctx = Context(tmp_path, Git(tmp_path), Config())
    chain = Chain([], [ForkMarkersResolver()])
    first = resolve_versions(ctx, Versions("h.py", BASE.encode(), FORK.encode(), UP.encode()), chain)
    other_fork = FORK.replace("audit every request", "log requests").replace("audit(req)", "log(req)")
    second = resolve_versions(ctx, Versions("h.py", BASE.encode(), other_fork.encode(), UP.encode()), chain)
    assert first.outcome == second.outcome == "resolved"
    assert first.content is not None and b"audit(req)" in first.content
    assert second.content is not None and b"log(req)" in second.content and b"audit" not in second.content
