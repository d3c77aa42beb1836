"""Ownership from history, on small real repositories that reproduce each pattern."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from forksync.config import Config
from forksync.git import Git
from forksync.resolve import history
from forksync.resolve.engine import Chain, read_conflicts, resolve_all, versions_from_stages
from forksync.resolve.history import PATHS_KEY, HistoryResolver, ownership, upstream_commits_for
from forksync.resolve.learned import conflicted_stages
from forksync.resolve.model import Context, Decision, Versions
from tests.gitutil import Repo, git

LINES = [f"line {i}\n" for i in range(1, 11)]


def text(**changes: str) -> str:
    """The ten-line file with some lines replaced: text(l2="x") changes line 2."""
    lines = list(LINES)
    for key, value in changes.items():
        lines[int(key[1:]) - 1] = value + "\n"
    return "".join(lines)


def start(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "r")
    repo.commit({"f.py": text(), "other.txt": "x\n"}, "base")
    repo.git("branch", "upstream")
    return repo


def conflicts(repo: Repo, upstream: str = "upstream") -> tuple[Context, dict[str, Versions]]:
    """Merge upstream into the fork (main) in the worktree and return the context and conflicts."""
    fork = repo.head()
    up = repo.git("rev-parse", upstream)
    base = repo.git("merge-base", fork, up)
    repo.git("merge", "--no-edit", "-q", up, check=False)
    git = Git(repo.path)
    versions = {v.path: v for v in read_conflicts(git, "ours")}
    assert versions, "the scenario must conflict"
    ctx = Context(repo.path, git, Config(), fork_commit=fork, upstream_commit=up, base_commit=base)
    return ctx, versions


def decide(repo: Repo, path: str = "f.py") -> Decision | None:
    """Merge upstream into the fork and ask the history rule about ``path``."""
    ctx, versions = conflicts(repo)
    return HistoryResolver().resolve_file(ctx, versions[path])


def on_upstream(repo: Repo, files: dict[str, str | bytes | None], message: str) -> str:
    repo.git("checkout", "-q", "upstream")
    sha = repo.commit(files, message, author="Up Stream <up@example.com>")
    repo.git("checkout", "-q", "main")
    return sha


def test_fork_copy_equal_to_an_upstream_version_takes_upstream(tmp_path: Path) -> None:
    repo = start(tmp_path)
    v1 = on_upstream(repo, {"f.py": text(l2="v1")}, "upstream v1")
    on_upstream(repo, {"f.py": text(l2="v2")}, "upstream v2")
    # A broken single-parent "sync" copied upstream's v1 into the fork (LESSON 1 and 6).
    repo.commit({"f.py": text(l2="v1")}, "sync upstream (squashed)")
    ctx, versions = conflicts(repo)
    decision = HistoryResolver().resolve_file(ctx, versions["f.py"])
    assert decision is not None
    assert decision.rule == "history:fork-is-upstream-version"
    assert decision.content == text(l2="v2").encode()
    assert v1[:10] in decision.reason


def test_cherry_picked_fork_fix_takes_upstream(tmp_path: Path) -> None:
    repo = start(tmp_path)
    fix = repo.commit({"f.py": text(l2="fixed")}, "fix line 2", author="Fork Dev <dev@fork.example>")
    on_upstream(repo, {"f.py": text(l9="upstream nine")}, "upstream edits line 5")
    repo.git("checkout", "-q", "upstream")
    repo.git("cherry-pick", fix)
    repo.commit({"f.py": text(l2="fixed better", l9="upstream nine")}, "upstream improves the fix")
    repo.git("checkout", "-q", "main")
    decision = decide(repo)
    assert decision is not None
    assert decision.rule == "history:fork-change-upstreamed"
    assert fix[:10] in decision.reason
    assert decision.content == text(l2="fixed better", l9="upstream nine").encode()


def test_a_fix_picked_on_an_upstream_side_branch_counts_as_upstreamed(tmp_path: Path) -> None:
    """The pick sits on a branch whose merge left the path as upstream's main line already had it:
    git's default history simplification hides that branch, so upstream is read in full."""
    repo = start(tmp_path)
    fix = repo.commit({"f.py": text(l2="fixed")}, "fix line 2", author="Fork Dev <dev@fork.example>")
    repo.git("checkout", "-q", "-b", "side", "upstream")
    repo.commit({"f.py": text(l9="nine")}, "side edits line 9", author="Up Stream <up@example.com>")
    repo.git("cherry-pick", fix)
    repo.git("checkout", "-q", "upstream")
    repo.commit(
        {"f.py": text(l2="fixed", l9="nine")}, "the same, on main", author="Up Stream <up@example.com>"
    )
    repo.git("merge", "--no-ff", "--no-edit", "-q", "side")
    repo.commit({"f.py": text(l2="fixed better", l9="nine")}, "upstream improves the fix")
    repo.git("checkout", "-q", "main")
    decision = decide(repo)
    assert decision is not None
    assert decision.rule == "history:fork-change-upstreamed"
    assert decision.content == text(l2="fixed better", l9="nine").encode()


def test_path_changed_only_by_earlier_sync_merges_takes_upstream(tmp_path: Path) -> None:
    repo = start(tmp_path)
    repo.commit({"other.txt": "fork change\n"}, "fork work elsewhere")
    on_upstream(repo, {"f.py": text(l2="u1", l8="u1")}, "upstream 1")
    # Sync 1 kept the fork's stale copy of f.py (the defect of LESSON 6): not a customization.
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    repo.git("checkout", "HEAD", "--", "f.py")
    repo.git("commit", "-q", "-m", "sync 1")
    on_upstream(repo, {"f.py": text(l2="u1", l5="u2", l8="u1")}, "upstream 2")
    # A clean merge: the fork's copy is now no upstream version at all.
    repo.git("merge", "--no-ff", "--no-edit", "-q", "upstream")
    on_upstream(repo, {"f.py": text(l2="u3", l5="u2", l8="u1")}, "upstream 3")
    ctx, versions = conflicts(repo)
    v = versions["f.py"]
    assert v.fork == text(l5="u2").encode()
    decision = HistoryResolver().resolve_file(ctx, v)
    assert decision is not None
    assert decision.rule == "history:no-fork-customization"
    assert decision.content == text(l2="u3", l5="u2", l8="u1").encode()


def test_stale_copy_kept_by_a_merge_takes_upstream(tmp_path: Path) -> None:
    repo = start(tmp_path)
    on_upstream(repo, {"f.py": text(l2="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    repo.git("checkout", "HEAD", "--", "f.py")
    repo.git("commit", "-q", "-m", "sync 1 kept the old copy")
    on_upstream(repo, {"f.py": text(l2="u2")}, "upstream 2")
    ctx, versions = conflicts(repo)
    decision = HistoryResolver().resolve_file(ctx, versions["f.py"])
    assert decision is not None
    assert decision.rule == "history:no-fork-customization"
    assert decision.content == text(l2="u2").encode()


def test_stale_upstream_copy_after_a_lost_customization_takes_upstream(tmp_path: Path) -> None:
    repo = start(tmp_path)
    repo.commit({"f.py": text(l9="fork nine")}, "fork customization", author="Fork Dev <dev@fork.example>")
    u1 = on_upstream(repo, {"f.py": text(l2="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    repo.git("checkout", "upstream", "--", "f.py")  # sync 1 took upstream's copy whole
    repo.git("commit", "-q", "-m", "sync 1")
    on_upstream(repo, {"f.py": text(l2="u2")}, "upstream 2")
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    repo.git("checkout", "HEAD", "--", "f.py")  # sync 2 kept the fork's (now stale) copy
    repo.git("commit", "-q", "-m", "sync 2")
    on_upstream(repo, {"f.py": text(l2="u3")}, "upstream 3")
    ctx, versions = conflicts(repo)
    decision = HistoryResolver().resolve_file(ctx, versions["f.py"])
    assert decision is not None
    assert decision.rule == "history:fork-is-upstream-version"
    assert "stale" in decision.reason and u1[:10] in decision.reason
    assert decision.content == text(l2="u3").encode()


@pytest.mark.parametrize(("window", "found"), [(1, False), (2, True)])
def test_stale_upstream_copies_are_looked_for_in_a_window_of_commits_before_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int, found: bool
) -> None:
    """Issue 14 §2: upstream's older history is read over a bounded window (its edge found by the
    same git run), so a copy older than the window is not recognized; a history shorter than the
    window is read whole (the test above)."""
    monkeypatch.setattr(history, "WINDOW", window)
    repo = start(tmp_path)
    repo.commit({"f.py": text(l9="fork nine")}, "fork customization", author="Fork Dev <dev@fork.example>")
    u1 = on_upstream(repo, {"f.py": text(l2="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    repo.git("checkout", "upstream", "--", "f.py")
    repo.git("commit", "-q", "-m", "sync 1")
    on_upstream(repo, {"f.py": text(l2="u2")}, "upstream 2")  # the next merge's base
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    repo.git("checkout", "HEAD", "--", "f.py")
    repo.git("commit", "-q", "-m", "sync 2")
    on_upstream(repo, {"f.py": text(l2="u3")}, "upstream 3")
    decision = decide(repo)
    if found:
        assert decision is not None and u1[:10] in decision.reason
    else:
        assert decision is None  # u1 is two first-parent commits before the base: outside


def test_real_customization_is_never_taken_from_upstream(tmp_path: Path) -> None:
    repo = start(tmp_path)
    repo.commit({"f.py": text(l2="FORK: custom")}, "fork customization", author="Fork Dev <dev@fork.example>")
    on_upstream(repo, {"f.py": text(l9="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-edit", "-q", "upstream")  # a clean sync after the customization
    on_upstream(repo, {"f.py": text(l2="upstream two", l9="u1")}, "upstream 2")
    ctx, versions = conflicts(repo)
    assert HistoryResolver().resolve_file(ctx, versions["f.py"]) is None


def test_deliberate_revert_to_an_old_upstream_version_is_kept(tmp_path: Path) -> None:
    repo = start(tmp_path)
    on_upstream(repo, {"f.py": text(l2="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-edit", "-q", "upstream")
    repo.commit({"f.py": text()}, "Revert upstream's line 2: breaks our deployment")
    on_upstream(repo, {"f.py": text(l2="u2")}, "upstream 2")
    ctx, versions = conflicts(repo)
    assert HistoryResolver().resolve_file(ctx, versions["f.py"]) is None


def test_hand_merge_in_an_earlier_sync_counts_as_customization(tmp_path: Path) -> None:
    repo = start(tmp_path)
    on_upstream(repo, {"f.py": text(l2="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    (repo.path / "f.py").write_text(text(l2="u1 plus the fork's own twist"))
    repo.git("commit", "-q", "-a", "-m", "sync 1 with a hand edit")
    on_upstream(repo, {"f.py": text(l2="u2")}, "upstream 2")
    ctx, versions = conflicts(repo)
    assert HistoryResolver().resolve_file(ctx, versions["f.py"]) is None


def test_all_paths_are_read_with_one_batch(tmp_path: Path) -> None:
    repo = start(tmp_path)
    names = [f"m{i}.py" for i in range(5)]
    repo.commit({n: text() for n in names}, "more files")
    repo.git("branch", "-f", "upstream", "HEAD")
    on_upstream(repo, {n: text(l3="v1") for n in names}, "upstream v1")
    on_upstream(repo, {n: text(l3="v2") for n in names}, "upstream v2")
    repo.commit({n: text(l3="v1") for n in names}, "squashed sync")
    ctx, versions = conflicts(repo)
    ctx.cache[PATHS_KEY] = sorted(versions)
    rules = [HistoryResolver().resolve_file(ctx, versions[n]) for n in names]
    assert all(d is not None and d.rule == "history:fork-is-upstream-version" for d in rules)
    assert len([k for k in ctx.cache if k.startswith("history.facts:")]) == 1


def test_no_commits_in_context_means_no_opinion(tmp_path: Path) -> None:
    repo = start(tmp_path)
    ctx = Context(repo.path, Git(repo.path), Config())
    assert HistoryResolver().resolve_file(ctx, Versions("f.py", b"a\n", b"b\n", b"c\n")) is None


def test_partial_clone_with_missing_blobs_degrades(tmp_path: Path) -> None:
    repo = start(tmp_path)
    repo.commit({"g.py": text(l2="fork custom")}, "fork customization")
    on_upstream(repo, {"f.py": text(l2="v1"), "g.py": text(l2="up")}, "upstream v1")
    on_upstream(repo, {"f.py": text(l2="v2")}, "upstream v2")
    repo.commit({"f.py": text(l2="v1")}, "squashed sync")
    repo.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{repo.path}", str(clone))
    git(clone, "fetch", "-q", "origin", "upstream:upstream")
    shutil.rmtree(repo.path)  # the promisor is gone: any lazy fetch fails
    fork = git(clone, "rev-parse", "origin/main")
    up = git(clone, "rev-parse", "upstream")
    base = git(clone, "merge-base", fork, up)
    ctx = Context(clone, Git(clone), Config(), fork_commit=fork, upstream_commit=up, base_commit=base)
    ctx.cache[PATHS_KEY] = ["f.py", "g.py"]
    f = Versions("f.py", text().encode(), text(l2="v1").encode(), text(l2="v2").encode())
    g = Versions("g.py", text().encode(), text(l2="fork custom").encode(), text(l2="up").encode())
    decision = HistoryResolver().resolve_file(ctx, f)
    assert decision is not None and decision.rule == "history:fork-is-upstream-version"
    assert HistoryResolver().resolve_file(ctx, g) is None


def test_ownership_names_the_fork_commits_behind_the_lines(tmp_path: Path) -> None:
    repo = start(tmp_path)
    sha = repo.commit({"f.py": text(l4="fork four")}, "fork: line four", author="Fork Dev <dev@fork.example>")
    up = on_upstream(repo, {"f.py": text(l4="upstream four")}, "upstream: line four")
    ctx, _ = conflicts(repo)
    owners = ownership(ctx, "f.py", 3, 3)
    assert [(c.sha, c.author, c.subject) for c in owners] == [(sha, "Fork Dev", "fork: line four")]
    assert owners[0].date.startswith("20")
    assert ownership(ctx, "f.py", 1, 2) == []  # base lines: nobody on the fork
    ups = upstream_commits_for(ctx, "f.py")
    assert [(c.sha, c.author) for c in ups] == [(up, "Up Stream")]


def test_fork_change_under_an_old_name_is_not_lost_after_an_upstream_rename(tmp_path: Path) -> None:
    repo = start(tmp_path)
    repo.commit({"f.py": text(l2="FORK: custom")}, "fork customization", author="Fork Dev <dev@fork.example>")
    repo.git("checkout", "-q", "upstream")
    repo.git("mv", "f.py", "g.py")
    repo.commit({"g.py": text(l2="upstream two")}, "upstream renames f.py to g.py and edits it")
    repo.git("checkout", "-q", "main")
    ctx, versions = conflicts(repo)
    v = versions["g.py"]
    assert v.fork == text(l2="FORK: custom").encode()  # git followed the rename
    assert HistoryResolver().resolve_file(ctx, v) is None


def test_hand_merge_is_seen_on_paths_git_quotes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    name = "módulo con espacio.py"
    repo.commit({name: text(), "other.txt": "x\n"}, "base")
    repo.git("branch", "upstream")
    repo.commit({"other.txt": "fork\n"}, "fork work elsewhere")
    on_upstream(repo, {name: text(l2="u1")}, "upstream 1")
    repo.git("merge", "--no-ff", "--no-commit", "-q", "upstream")
    (repo.path / name).write_text(text(l2="u1 and the fork's twist"))
    repo.git("commit", "-q", "-a", "-m", "sync 1 with a hand edit")
    on_upstream(repo, {name: text(l2="u2")}, "upstream 2")
    ctx, versions = conflicts(repo)
    assert HistoryResolver().resolve_file(ctx, versions[name]) is None


def test_a_large_batch_reads_the_range_once_and_keeps_the_wanted_paths(tmp_path: Path) -> None:
    """Past PATHSPEC_LIMIT paths the logs run without a pathspec; the answers must not change,
    and a path outside the batch that upstream also changed must not leak in."""
    from forksync.resolve.history import PATHSPEC_LIMIT

    repo = start(tmp_path)
    names = [f"pkg/d{i % 7}/m{i}.py" for i in range(PATHSPEC_LIMIT + 10)]
    repo.commit({n: text() for n in names}, "more files")
    repo.git("branch", "-f", "upstream", "HEAD")
    fix = repo.commit({names[0]: text(l2="fixed")}, "fix m0", author="Fork Dev <dev@fork.example>")
    upstream_v1 = {n: text(l3="v1") for n in names[1:]} | {names[0]: text(l9="nine"), "other.txt": "up\n"}
    on_upstream(repo, upstream_v1, "upstream v1")
    on_upstream(repo, {n: text(l3="v2") for n in names[1:]}, "upstream v2")
    repo.git("checkout", "-q", "upstream")
    repo.git("cherry-pick", fix)
    repo.commit({names[0]: text(l2="fixed better", l9="nine")}, "upstream improves the fix")
    repo.git("checkout", "-q", "main")
    repo.commit({n: text(l3="v1") for n in names[1:]}, "squashed sync")
    ctx, versions = conflicts(repo)
    assert len(versions) == len(names)
    ctx.cache[PATHS_KEY] = sorted(versions)
    decisions = {n: HistoryResolver().resolve_file(ctx, versions[n]) for n in names}
    assert all(
        d is not None and d.rule == "history:fork-is-upstream-version" for d in list(decisions.values())[1:]
    )
    first = decisions[names[0]]
    assert first is not None and first.rule == "history:fork-change-upstreamed" and fix[:10] in first.reason


# -- cost on a long history ----------------------------------------------------------------------


def long_fork(root: Path, merges: int = 300, branches: int = 10, hot: int = 3) -> tuple[Path, str, str]:
    """A bare fork with ``merges`` feature merges over ``branches`` long-lived branches (written by
    `git fast-import` in well under a second); ``hot`` of them also change ``app/core.py``, which
    the fork customized and upstream's release changes too (the one conflict). Returns
    (repository, fork tip, upstream tip)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "--bare", "-b", "main")
    chunks: list[bytes] = []
    marks = [0]

    def commit(ref: str, files: dict[str, str], parents: list[int]) -> int:
        marks[0] += 1
        when = 1_700_000_000 + 60 * marks[0]
        head = f"commit {ref}\nmark :{marks[0]}\ncommitter A <a@example.com> {when} +0000\ndata 1\nc\n"
        head += "".join(f"{'from' if i == 0 else 'merge'} :{p}\n" for i, p in enumerate(parents))
        body = "".join(f"M 100644 inline {p}\ndata {len(t.encode())}\n{t}\n" for p, t in files.items())
        chunks.append((head + body).encode())
        return marks[0]

    core = ["def handler():\n", "    timeout = 30\n", "    retries = 1\n", "    return timeout\n"]
    files = {f"pkg/m{i}.py": [f"v{j} = {j}\n" for j in range(10)] for i in range(20)}
    base = commit(
        "refs/heads/upstream", {"app/core.py": "".join(core)} | {p: "".join(v) for p, v in files.items()}, []
    )
    released = "".join(core).replace("= 30", "= 45")
    core[1] = "    timeout = 60  # fork\n"
    main = commit("refs/heads/main", {"app/core.py": "".join(core)}, [base])
    tips: dict[int, int] = {}
    for k in range(merges):
        b = k % branches
        if k % (merges // max(hot, 1)) == merges // max(hot, 1) - 1:
            core[2] = f"    retries = {k}\n"
            change = {"app/core.py": "".join(core)}
        else:
            path = f"pkg/m{k % 20}.py"
            files[path][b] = f"v{b} = 'fork {k}'\n"
            change = {path: "".join(files[path])}
        tips[b] = commit(f"refs/heads/feature{b}", change, [main])  # each feature starts from main
        main = commit("refs/heads/main", change, [main, tips[b]])
    commit("refs/heads/upstream", {"app/core.py": released}, [base])
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=root, input=b"".join(chunks) + b"done\n", check=True
    )
    return root, git(root, "rev-parse", "main"), git(root, "rev-parse", "upstream")


def git_processes(trace: Path) -> list[str]:
    """The git subcommands a GIT_TRACE2_EVENT file recorded, one per process."""
    out = []
    for line in trace.read_text().splitlines() if trace.exists() else []:
        event = json.loads(line)
        if event.get("event") == "start":
            args = event["argv"][1:]
            while len(args) > 1 and args[0] == "-c":  # forksync's `-c core.hooksPath=…` options
                args = args[2:]
            out.append(args[0] if args else "")
    return out


def traced_context(repo: Path, fork: str, up: str, trace: Path) -> tuple[Context, list[Versions]]:
    plain = Git(repo)
    versions, _ = versions_from_stages(plain, conflicted_stages(plain, fork, up) or {})
    git_traced = Git(repo, env={"GIT_TRACE2_EVENT": str(trace)})
    ctx = Context(repo, git_traced, Config(), fork_commit=fork, upstream_commit=up)
    ctx.base_commit = plain.merge_base(fork, up)
    return ctx, versions


def test_history_rules_cost_a_bounded_number_of_git_processes_on_a_long_history(tmp_path: Path) -> None:
    """Issue 14: history reading must not grow with the number of merges: one batch of `git`
    runs for all conflicted paths, whatever the length of the fork's history."""
    counts = []
    for merges in (60, 300):
        repo, fork, up = long_fork(tmp_path / f"m{merges}", merges=merges)
        trace = tmp_path / f"trace{merges}.json"
        ctx, versions = traced_context(repo, fork, up, trace)
        assert [v.path for v in versions] == ["app/core.py"]
        results = resolve_all(ctx, versions, Chain([HistoryResolver()], []))
        assert results[0].outcome == "unresolved"  # a real customization on both sides
        counts.append(len(git_processes(trace)))
    assert counts[0] == counts[1] and counts[1] <= 12, counts  # upstream's older window is read up front
