"""The order of two sides' additions at one place follows this repository's own past merges (issue 14)."""

from __future__ import annotations

from pathlib import Path

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.engine import Chain, read_conflicts, resolve_versions
from forksync.resolve.model import Context
from forksync.resolve.python_merge import PythonSyntaxResolver
from tests.gitutil import Repo

FORK = [
    "acme_gateway_eu_west",
    "corp_audit_proxy",
    "internal_llm_router",
    "legacy_billing_hook",
    "zx_sandbox",
]
UP = ["bedrock_converse_v2", "vertex_gemini_flash", "mistral_codestral", "cohere_rerank_v3", "xai_grok"]


def render(lists: list[list[str]]) -> dict[str, str]:
    """One list per release; each release's sync met both sides appending to its own list."""
    body = "".join(
        f"LIST_{i} = [\n    'base_item_{i}',\n" + "".join(f"    '{x}',\n" for x in items) + "]\n\n\n"
        for i, items in enumerate(lists)
    )
    return {"app.py": body}


def history(
    tmp_path: Path, rounds: int, upstream_first: bool
) -> tuple[Repo, list[list[str]], list[list[str]]]:
    """Past syncs where both sides appended an item and people kept both, always in one order."""
    repo = Repo(tmp_path / "r")
    up: list[list[str]] = [[] for _ in FORK]
    mine: list[list[str]] = [[] for _ in FORK]
    repo.commit(render(mine), "base")
    repo.git("branch", "up")
    for i in range(rounds):
        repo.git("checkout", "-q", "up")
        up[i] = [UP[i]]
        repo.commit(render(up), f"upstream {i}")
        repo.git("checkout", "-q", "main")
        mine[i] = [FORK[i]]
        repo.commit(render(mine), f"fork {i}")
        repo.git("merge", "-q", "--no-edit", "up", check=False)
        mine[i] = [UP[i], FORK[i]] if upstream_first else [FORK[i], UP[i]]
        repo.write(render(mine))
        repo.git("commit", "-q", "-a", "--no-edit")
    return repo, up, mine


def resolve_next(repo: Repo, up: list[list[str]], mine: list[list[str]], n: int) -> tuple[str, str]:
    repo.git("checkout", "-q", "up")
    up[n] = [UP[n]]
    repo.commit(render(up), f"upstream {n}")
    repo.git("checkout", "-q", "main")
    mine[n] = [FORK[n]]
    repo.commit(render(mine), f"fork {n}")
    fork, upstream = repo.head(), repo.git("rev-parse", "up").strip()
    repo.git("merge", "-q", "--no-edit", "up", check=False)
    git = Git(repo.path)
    (v,) = read_conflicts(git, "ours")
    ctx = Context(repo.path, git, Config(), fork, upstream, git.merge_base(fork, upstream))
    res = resolve_versions(ctx, v, Chain([], [PythonSyntaxResolver()]))
    assert res.outcome == "resolved", res.reason
    return (res.content or b"").decode(), res.hunks[0].reason


def test_people_putting_upstream_first_make_upstream_go_first(tmp_path: Path) -> None:
    repo, up, mine = history(tmp_path, 4, upstream_first=True)
    text, why = resolve_next(repo, up, mine, 4)
    assert text.index(UP[4]) < text.index(FORK[4])
    assert (
        "upstream's additions first (the merged-in side first, as people did in 4 of 4 such past hunks here)"
        in why
    )


def test_people_putting_the_fork_first_keep_the_default_and_say_so(tmp_path: Path) -> None:
    repo, up, mine = history(tmp_path, 4, upstream_first=False)
    text, why = resolve_next(repo, up, mine, 4)
    assert text.index(FORK[4]) < text.index(UP[4])
    assert (
        "the fork's additions first (the checked-out side first, as people did in 4 of 4 such past hunks here)"
        in why
    )


def test_too_few_past_hunks_leave_git_s_order(tmp_path: Path) -> None:
    repo, up, mine = history(tmp_path, 2, upstream_first=True)
    text, why = resolve_next(repo, up, mine, 2)
    assert text.index(FORK[2]) < text.index(UP[2])
    assert "the checked-out side first, as people did in 0 of 2 such past hunks here" in why


def test_no_history_says_it_follows_git(tmp_path: Path) -> None:
    repo, up, mine = history(tmp_path, 0, upstream_first=True)
    text, why = resolve_next(repo, up, mine, 0)
    assert text.index(FORK[0]) < text.index(UP[0])
    assert "the checked-out side first, as git's union merge does" in why
