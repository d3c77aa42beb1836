"""Lines are counted as git counts them: only LF ends a line.

A minified bundle holding U+0085 (NEL), U+2028 or a form feed was split there by
``str.splitlines``, so a merge byte-identical to the committed one reported lost upstream changes.
"""

from __future__ import annotations

from pathlib import Path

from forksync.config import Config
from forksync.verify import verify
from forksync.verify.trees import git_lines
from tests.gitutil import Repo


def test_git_lines_split_at_lf_only() -> None:
    assert git_lines("a\x85b\u2028c\x0cd\r\ne\n") == ["a\x85b\u2028c\x0cd\r", "e"]
    assert git_lines("no final newline") == ["no final newline"]
    assert git_lines("") == []


def test_bundle_with_line_separators_merged_cleanly_has_no_finding(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    bundle = 'var chunk0="a\x85b";\nvar chunk1="c\u2028d\x0ce";\n'
    repo.commit({"ui/out/app.js": bundle, "app.py": "X = 1\n"}, "upstream: initial")
    repo.git("branch", "upstream")
    fork = repo.commit({"app.py": "X = 2\n"}, "fork: X is 2")
    repo.git("checkout", "-q", "upstream")
    rebuilt = 'var chunk0="a\x85b";\nvar chunk1="c\u2028d\x0ce";\nvar chunk2="new\x85feature\u2028here";\n'
    upstream = repo.commit({"ui/out/app.js": rebuilt}, "upstream: rebuild the UI")
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "--no-edit", "upstream")
    assert repo.read("ui/out/app.js") == rebuilt
    assert verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False) == []
    # the check is live: dropping upstream's new chunk is reported, at the line git gives it
    repo.commit({"ui/out/app.js": bundle}, "lose the chunk")
    findings = verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False)
    assert [(f.kind, f.path, f.line) for f in findings] == [("lost-upstream-change", "ui/out/app.js", 3)]


def test_a_fork_change_rewrapped_by_the_merge_is_not_lost(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    base = "async def get(db, sql):\n    response = await db.query(sql)\n    return response\n"
    repo.commit({"utils.py": base, "other.py": "A = 1\n"}, "upstream: initial")
    repo.git("branch", "upstream")
    wrapped = base.replace("await db.query(sql)", "await db.query_cached(\n        sql\n    )")
    fork = repo.commit({"utils.py": wrapped}, "fork: use the cached query")
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit({"other.py": "A = 2\n"}, "upstream: A is 2")
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "--no-edit", "upstream")
    repo.commit(
        {"utils.py": base.replace("db.query(sql)", "db.query_cached(sql)")}, "formatter joins the call"
    )
    assert verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False) == []
    repo.commit({"utils.py": base}, "the fork's change really lost")
    findings = verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False)
    assert [(f.kind, f.path, f.line) for f in findings] == [("lost-fork-change", "utils.py", 2)]
