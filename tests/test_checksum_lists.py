"""go.sum and other checksum lists merge by union of lines (issue 14)."""

from __future__ import annotations

from pathlib import Path

from forksync.resolve.policy import line_union
from tests.test_engine import conflict_repo, resolve, unmerged

BASE = "example.com/a v1.0.0 h1:aaa=\nexample.com/a v1.0.0/go.mod h1:bbb=\n"


def test_go_sum_keeps_the_forks_own_module_checksums(tmp_path: Path) -> None:
    fork = BASE + "example.com/forkonly v0.3.0 h1:fff=\n"
    up = BASE + "example.com/a v1.1.0 h1:ccc=\nexample.com/z v2 h1:zzz=\n"
    repo = conflict_repo(tmp_path, {"go.sum": BASE}, {"go.sum": fork}, {"go.sum": up})
    result = resolve(repo)
    assert result.exit_code == 0, result.output
    text = repo.read("go.sum")
    lines = text.splitlines()
    assert "example.com/forkonly v0.3.0 h1:fff=" in lines and "example.com/z v2 h1:zzz=" in lines
    assert "example.com/a v1.1.0 h1:ccc=" in lines
    assert lines == sorted(lines) and len(lines) == len(set(lines))
    assert not unmerged(repo)


def test_unsorted_lists_keep_upstreams_order_then_the_forks_lines() -> None:
    assert line_union(b"b\na\nx\n", b"b\na\ny\n") == b"b\na\ny\nx\n"
    assert line_union(b"", b"") == b""
