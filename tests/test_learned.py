"""Learned resolutions: a recurring conflict resolved once is reused later, never leaked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from forksync.config import Config, ResolveConfig
from forksync.git import Git
from forksync.resolve.conflicts import merge_file, split_lines
from forksync.resolve.engine import Chain, read_conflicts, resolve_versions
from forksync.resolve.learned import Learned, LearnedResolver, align, learned_index
from forksync.resolve.model import Context, FileResult, Versions
from tests.gitutil import Repo
from tests.test_history import git_processes, long_fork, traced_context

HEADER = "import os\n\n\n"
BODY = [
    "def settings():\n",
    "    region = os.environ.get('REGION', 'eu')\n",
    "    value = compute()\n",
    "    return {'region': region, 'value': value}\n",
]
FORK_LINE = "    value = compute(timeout=30, retries=fork_retries())\n"
UP_LINE = "    value = compute(client=shared_client(), cache=True)\n"
RESOLVED = "    value = compute(client=shared_client(), cache=True, timeout=30, retries=fork_retries())\n"


def body(line: str) -> str:
    return "".join([*BODY[:2], line, *BODY[3:]])


def build(tmp_path: Path) -> tuple[Repo, str]:
    """A fork whose earlier (superseded) sync resolved a conflict that now comes back, shifted."""
    repo = Repo(tmp_path / "r")
    repo.commit({"app.py": HEADER + body(BODY[2])}, "base")
    base = repo.head()
    repo.commit(
        {"app.py": HEADER + body(FORK_LINE)}, "fork: tune compute", author="Fork Dev <dev@fork.example>"
    )
    # Upstream's release branch carries the change; its main branch carries a cherry-pick of it.
    repo.git("checkout", "-q", "-b", "up-release", base)
    repo.commit({"app.py": HEADER + body(UP_LINE)}, "upstream: shared client")
    repo.git("checkout", "-q", "-b", "up-main", base)
    repo.commit(
        {"app.py": HEADER + "# upstream banner\n" + body(UP_LINE)}, "upstream: shared client + banner"
    )
    # A sync attempt merged the release and resolved by hand; it was superseded (-s ours) on main.
    repo.git("checkout", "-q", "-b", "trial", "main")
    repo.git("merge", "-q", "--no-edit", "up-release", check=False)
    (repo.path / "app.py").write_text(HEADER + body(RESOLVED))
    repo.git("commit", "-q", "-a", "-m", "trial sync: resolve compute()")
    trial = repo.head()
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "-s", "ours", "--no-edit", "trial")
    repo.commit({"app.py": "# fork notice\n" + HEADER + body(FORK_LINE)}, "fork: notice")  # shift context
    return repo, trial


def merge_now(repo: Repo, config: Config | None = None) -> tuple[Context, Versions]:
    fork = repo.head()
    up = repo.git("rev-parse", "up-main")
    base = repo.git("merge-base", fork, up)
    repo.git("merge", "-q", "--no-edit", up, check=False)
    git = Git(repo.path)
    (v,) = read_conflicts(git, "ours")
    ctx = Context(repo.path, git, config or Config(), fork_commit=fork, upstream_commit=up, base_commit=base)
    return ctx, v


def test_recurring_conflict_is_resolved_as_before_with_shifted_context(tmp_path: Path) -> None:
    repo, trial = build(tmp_path)
    ctx, v = merge_now(repo)
    result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
    assert result.outcome == "resolved"
    assert result.content == ("# fork notice\n" + HEADER + "# upstream banner\n" + body(RESOLVED)).encode()
    (hunk,) = result.hunks
    assert hunk.rule == "learned"
    assert trial[:10] in hunk.reason
    cache = json.loads((repo.path / ".git" / "forksync" / "learned.json").read_text())
    assert trial in cache["merges"]


@pytest.mark.parametrize("undecodable_path", [False, True])
def test_cache_is_used_on_the_next_run(tmp_path: Path, undecodable_path: bool) -> None:
    """Also when the cache holds a path whose bytes are not UTF-8 (saved with surrogate escapes)."""
    repo, trial = build(tmp_path)
    ctx, v = merge_now(repo)
    learned_index(ctx)
    path = repo.path / ".git" / "forksync" / "learned.json"
    data = json.loads(path.read_text())
    (entry,) = data["merges"][trial]
    entry[4] = ["    value = 'from the cache'\n"]  # prove the second run reads the cache, not git
    entry[3] = "custom"
    if undecodable_path:
        data["resolved"]["0" * 40] = [b"caf\xe9.py".decode("utf-8", "surrogateescape")]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8", errors="surrogateescape")
    ctx2 = Context(
        repo.path,
        ctx.git,
        Config(),
        fork_commit=ctx.fork_commit,
        upstream_commit=ctx.upstream_commit,
        base_commit=ctx.base_commit,
    )
    result = resolve_versions(ctx2, v, Chain([], [LearnedResolver()]))
    assert result.content is not None and b"from the cache" in result.content


def test_no_leakage_a_merge_never_learns_from_itself(tmp_path: Path) -> None:
    repo, trial = build(tmp_path)
    parents = repo.git("rev-list", "--no-walk", "--parents", trial).split()[1:]
    git = Git(repo.path)
    ctx = Context(
        repo.path,
        git,
        Config(),
        fork_commit=parents[0],
        upstream_commit=parents[1],
        base_commit=repo.git("merge-base", *parents),
    )
    assert all(h.merge != trial for hits in learned_index(ctx).values() for h in hits)
    later = Context(repo.path, git, Config(), fork_commit=repo.head(), upstream_commit=parents[1])
    assert any(h.merge == trial for hits in learned_index(later).values() for h in hits)


def test_disabled_or_without_history_it_has_no_opinion(tmp_path: Path) -> None:
    repo, _ = build(tmp_path)
    ctx, v = merge_now(repo, Config(resolve=ResolveConfig(learn_from_history=False)))
    result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
    assert result.outcome == "unresolved"
    bare = Context(repo.path, ctx.git, Config())
    assert resolve_versions(bare, v, Chain([], [LearnedResolver()])).outcome == "unresolved"


def test_past_merges_that_disagree_are_not_trusted(tmp_path: Path) -> None:
    repo, _ = build(tmp_path)
    # A second superseded attempt resolved the same conflict the other way.
    repo.git("checkout", "-q", "-b", "trial2", "main~2")
    repo.git("merge", "-q", "--no-edit", "up-release", check=False)
    (repo.path / "app.py").write_text(HEADER + body(FORK_LINE))
    repo.git("commit", "-q", "-a", "-m", "trial 2: keep the fork's call")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "-s", "ours", "--no-edit", "trial2")
    ctx, v = merge_now(repo)
    result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
    assert result.outcome == "unresolved"
    assert "differently" in result.hunks[0].reason


def lines(text: str) -> list[str]:
    return split_lines(text)


def test_align_reads_each_hunk_resolution() -> None:
    base = "a\nb\nc\nd\ne\nf\ng\n"
    fork = "a\nB1\nc\nd\ne\nF1\ng\n"
    up = "a\nB2\nc\nd\ne\nF2\ng\n"
    doc = merge_file(base.encode(), fork.encode(), up.encode())
    assert len(doc.hunks) == 2
    got = align(doc.parts, lines("a\nB1\nB2\nc\nd\ne\nF3\ng\n"))
    assert got == {1: ("B1\n", "B2\n"), 2: ("F3\n",)}


def test_align_refuses_ambiguous_placements() -> None:
    base = "x\n}\ny\n"
    doc = merge_file(base.encode(), b"X1\n}\nY1\n", b"X2\n}\nY2\n")
    assert len(doc.hunks) == 2
    # The resolution of the first hunk itself contains "}", so the split is not unique.
    got = align(doc.parts, lines("X1\n}\nX2\n}\nY2\n"))
    assert got == {}


def test_align_falls_back_to_unique_context_when_stable_lines_were_edited() -> None:
    base = "zero\none\ntwo\nthree\nmid\nfour\nfive\nsix\n"
    fork = "zero\none\ntwo\nthree\nFORK\nfour\nfive\nsix\n"
    up = "zero\none\ntwo\nthree\nUP\nfour\nfive\nsix\n"
    doc = merge_file(base.encode(), fork.encode(), up.encode())
    edited = "zero (edited)\none\ntwo\nthree\nFORK+UP\nfour\nfive\nsix\n"
    assert align(doc.parts, lines(edited)) == {1: ("FORK+UP\n",)}


def test_a_parallel_branch_teaches_with_the_sides_the_other_way_round(tmp_path: Path) -> None:
    """A colleague's branch (not an ancestor of the fork) met the same conflict, with upstream
    checked out; its resolution is reused, and a replay dated before it does not see it."""
    repo = Repo(tmp_path / "r")
    repo.commit({"app.py": HEADER + body(BODY[2])}, "base")
    base = repo.head()
    repo.git("checkout", "-q", "-b", "up-main", base)
    repo.commit({"app.py": HEADER + body(UP_LINE)}, "upstream: shared client")
    repo.git("checkout", "-q", "main")
    repo.commit({"app.py": HEADER + body(FORK_LINE)}, "fork: tune compute")
    fork = repo.head()
    # A colleague's branch from upstream merged the fork's change and resolved it.
    repo.git("checkout", "-q", "-b", "colleague", "up-main")
    repo.git("merge", "-q", "--no-edit", "main", check=False)
    (repo.path / "app.py").write_text(HEADER + body(RESOLVED))
    repo.git("commit", "-q", "-a", "-m", "colleague: resolve compute()")
    taught = repo.head()
    repo.git("checkout", "-q", "main")
    repo.commit({"app.py": "# fork notice\n" + HEADER + body(FORK_LINE)}, "fork: notice")
    ctx, v = merge_now(repo)
    ancestor = subprocess.run(["git", "-C", str(repo.path), "merge-base", "--is-ancestor", taught, fork])
    assert ancestor.returncode == 1  # not in the fork's history
    result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
    assert result.outcome == "resolved", result.hunks
    assert result.content == ("# fork notice\n" + HEADER + body(RESOLVED)).encode()
    assert taught[:10] in result.hunks[0].reason
    when = int(repo.git("log", "-1", "--format=%ct", taught))
    earlier = Context(
        repo.path,
        ctx.git,
        Config(),
        fork_commit=ctx.fork_commit,
        upstream_commit=ctx.upstream_commit,
        as_of=when,
    )
    assert all(h.merge != taught for hits in learned_index(earlier).values() for h in hits)


def build_marked(tmp_path: Path, *, fix: bool) -> tuple[Repo, str, str | None]:
    """A sync merge that committed conflict markers (forksync's review mode), on its sync branch;
    with ``fix``, a person's later commit on that branch replaces them with a resolution."""
    repo = Repo(tmp_path / "r")
    repo.commit({"app.py": HEADER + body(BODY[2])}, "base")
    base = repo.head()
    repo.commit({"app.py": HEADER + body(FORK_LINE)}, "fork: tune compute")
    repo.git("checkout", "-q", "-b", "up-release", base)
    repo.commit({"app.py": HEADER + body(UP_LINE)}, "upstream: shared client")
    repo.git("checkout", "-q", "-b", "up-main", base)
    repo.commit({"app.py": HEADER + "# upstream banner\n" + body(UP_LINE)}, "upstream: client + banner")
    repo.git("checkout", "-q", "-b", "upstream-sync/v1", "main")
    repo.git("merge", "-q", "--no-edit", "up-release", check=False)
    assert "<<<<<<<" in repo.read("app.py")
    january = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    repo.git("commit", "-q", "-a", "-m", "Merge upstream release v1 (markers left for review)", env=january)
    marked = repo.head()
    fixed = None
    if fix:
        (repo.path / "app.py").write_text(HEADER + body(RESOLVED))
        february = {"GIT_AUTHOR_DATE": "2026-02-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-02-01T00:00:00Z"}
        repo.git("commit", "-q", "-a", "-m", "resolve compute() by hand", env=february)
        fixed = repo.head()
    repo.git("checkout", "-q", "main")
    repo.commit({"app.py": "# fork notice\n" + HEADER + body(FORK_LINE)}, "fork: notice")
    return repo, marked, fixed


def _marker_lines(index: dict[str, list[Learned]]) -> list[str]:
    return [
        line
        for hits in index.values()
        for h in hits
        for line in h.lines
        if line.startswith(("<<<<<<<", ">>>>>>>"))
    ]


def test_committed_markers_are_never_learned(tmp_path: Path) -> None:
    """Issue 12: a merge that committed markers taught them back, leaving the next hunk open."""
    repo, marked, _ = build_marked(tmp_path, fix=False)
    ctx, v = merge_now(repo)
    index = learned_index(ctx)
    assert _marker_lines(index) == [] and all(h.merge != marked for hits in index.values() for h in hits)
    result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
    assert result.outcome == "unresolved" and result.hunks[0].rule != "learned"
    cache = repo.path / ".git" / "forksync" / "learned.json"
    assert not cache.exists() or marked not in json.loads(cache.read_text())["merges"]  # a fix may come


def test_a_person_s_fix_of_committed_markers_is_learned(tmp_path: Path) -> None:
    repo, marked, fixed = build_marked(tmp_path, fix=True)
    ctx, v = merge_now(repo)
    result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
    assert result.outcome == "resolved", result.hunks
    assert result.content == ("# fork notice\n" + HEADER + "# upstream banner\n" + body(RESOLVED)).encode()
    assert marked[:10] in result.hunks[0].reason
    # A replay dated between the merge and the fix sees the markers only: it learns nothing.
    mid = int(repo.git("log", "-1", "--format=%ct", marked)) + 86400
    replay = Context(
        repo.path,
        ctx.git,
        Config(),
        fork_commit=ctx.fork_commit,
        upstream_commit=ctx.upstream_commit,
        as_of=mid,
    )
    assert all(h.merge != marked for hits in learned_index(replay).values() for h in hits)
    assert fixed is not None


def test_a_later_merge_is_no_fix(tmp_path: Path) -> None:
    """The first commit after the marked merge that touches the file is the next sync's merge:
    its content is not a person's fix of these hunks, so nothing is learned."""
    repo, marked, _ = build_marked(tmp_path, fix=False)
    repo.git("checkout", "-q", "upstream-sync/v1")
    repo.git("merge", "-q", "--no-edit", "up-main", check=False)
    (repo.path / "app.py").write_text(HEADER + body(RESOLVED.replace("30", "60")))
    repo.git("commit", "-q", "-a", "--no-edit")
    repo.git("checkout", "-q", "main")
    ctx, _ = merge_now(repo)
    assert all(h.merge != marked for hits in learned_index(ctx).values() for h in hits)


# -- cost on a long history, and the persistent index --------------------------------------------


def _learned_run(repo: Path, fork: str, up: str, trace: Path) -> tuple[dict[str, list[Learned]], list[str]]:
    trace.unlink(missing_ok=True)
    ctx, versions = traced_context(repo, fork, up, trace)
    index = learned_index(ctx, [v.path for v in versions])
    return index, git_processes(trace)


def test_learning_is_bounded_by_the_conflicted_paths_and_indexed_once(tmp_path: Path) -> None:
    """Issue 14: of 300 past merges, only those among the 200 most recent (learn-limit) that
    changed the conflicted path are looked at (2 of the 3 that did; not 200); one `git log
    --remerge-diff` shows that neither resolved anything there (both sides' changes merged
    cleanly), so none is merged again; a second run reads nothing more: the facts are kept."""
    repo, fork, up = long_fork(tmp_path / "r", merges=300, hot=3)
    _, cold = _learned_run(repo, fork, up, tmp_path / "t.json")
    assert cold.count("merge-tree") == 0 and cold.count("log") == 2 and len(cold) <= 6, cold
    cache = json.loads((repo / "forksync" / "learned.json").read_text())
    assert len(cache["resolved"]) == 2 and all(paths == [] for paths in cache["resolved"].values())
    _, warm = _learned_run(repo, fork, up, tmp_path / "t.json")
    assert "merge-tree" not in warm and warm.count("log") == 1 and len(warm) <= 4, warm


def test_an_indexed_merge_no_longer_in_history_teaches_nothing(tmp_path: Path) -> None:
    repo, trial = build(tmp_path)
    ctx, v = merge_now(repo)
    assert resolve_versions(ctx, v, Chain([], [LearnedResolver()])).outcome == "resolved"
    repo.git("merge", "--abort")
    # The superseded attempt leaves history: its branch is deleted and main forgets the merge.
    repo.git("branch", "-D", "trial")
    repo.git("reset", "-q", "--hard", "main~2")
    repo.commit({"app.py": "# fork notice\n" + HEADER + body(FORK_LINE)}, "fork: notice")
    assert trial in json.loads((repo.path / ".git" / "forksync" / "learned.json").read_text())["merges"]
    ctx, v = merge_now(repo)
    assert resolve_versions(ctx, v, Chain([], [LearnedResolver()])).outcome == "unresolved"


def test_a_marked_merge_is_read_again_only_when_a_fix_comes(tmp_path: Path) -> None:
    repo, marked, _ = build_marked(tmp_path, fix=False)
    ctx, v = merge_now(repo)
    assert resolve_versions(ctx, v, Chain([], [LearnedResolver()])).outcome == "unresolved"
    repo.git("merge", "--abort")
    trace = tmp_path / "trace.json"

    def again() -> tuple[FileResult, list[str]]:
        trace.unlink(missing_ok=True)
        ctx, v = merge_now(repo)
        ctx.git = Git(repo.path, env={"GIT_TRACE2_EVENT": str(trace)})
        result = resolve_versions(ctx, v, Chain([], [LearnedResolver()]))
        repo.git("merge", "--abort")
        return result, git_processes(trace)

    result, seen = again()  # nothing fixed yet: the walk for a fix runs, the merge is not redone
    assert result.outcome == "unresolved" and "merge-tree" not in seen and "rev-list" in seen
    repo.git("checkout", "-q", "upstream-sync/v1")
    (repo.path / "app.py").write_text(HEADER + body(RESOLVED))
    repo.git("commit", "-q", "-a", "-m", "resolve compute() by hand")
    repo.git("checkout", "-q", "main")
    result, seen = again()  # a fix came: the merge is learned again, with it
    assert result.outcome == "resolved" and marked[:10] in result.hunks[0].reason
    assert "merge-tree" in seen
    result, seen = again()  # the fix is a fact now: nothing is read again
    assert result.outcome == "resolved" and "merge-tree" not in seen and "rev-list" not in seen
