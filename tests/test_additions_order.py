"""The order of two sides' additions at one place follows this repository's own past merges (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from forksync.config import Config, load_config_text
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
        both_append(repo, up, mine, i)
        repo.git("merge", "-q", "--no-edit", "up", check=False)
        mine[i] = [UP[i], FORK[i]] if upstream_first else [FORK[i], UP[i]]
        repo.write(render(mine))
        repo.git("commit", "-q", "-a", "--no-edit")
    return repo, up, mine


def both_append(repo: Repo, up: list[list[str]], mine: list[list[str]], n: int) -> None:
    """Upstream and the fork (main) each append their item to list ``n``."""
    repo.git("checkout", "-q", "up")
    up[n] = [UP[n]]
    repo.commit(render(up), f"upstream {n}")
    repo.git("checkout", "-q", "main")
    mine[n] = [FORK[n]]
    repo.commit(render(mine), f"fork {n}")


def resolve_next(
    repo: Repo, up: list[list[str]], mine: list[list[str]], n: int, config: Config | None = None
) -> tuple[str, str]:
    both_append(repo, up, mine, n)
    fork, upstream = repo.head(), repo.git("rev-parse", "up").strip()
    repo.git("merge", "-q", "--no-edit", "up", check=False)
    git = Git(repo.path)
    (v,) = read_conflicts(git, "ours")
    ctx = Context(repo.path, git, config or Config(), fork, upstream, git.merge_base(fork, upstream))
    res = resolve_versions(ctx, v, Chain([], [PythonSyntaxResolver()]))
    assert res.outcome == "resolved", res.reason
    return (res.content or b"").decode(), res.hunks[0].reason


@pytest.mark.parametrize(
    ("rounds", "upstream_first", "expected_first", "why"),
    [
        (
            4,
            True,
            "upstream",
            "upstream's additions first (the merged-in side, as people did in 4 of 4 such past hunks here)",
        ),
        (
            4,
            False,
            "fork",
            "the fork's additions first (the checked-out side, as people did in 4 of 4 such past hunks here)",
        ),
        (
            2,
            True,
            "fork",
            "the checked-out side, as people did in 0 of 2 such past hunks here",
        ),  # too few
        (0, True, "fork", "the checked-out side, as git's union merge does"),  # no history
    ],
)
def test_additions_go_in_the_order_people_used_here(
    tmp_path: Path, rounds: int, upstream_first: bool, expected_first: str, why: str
) -> None:
    repo, up, mine = history(tmp_path, rounds, upstream_first)
    text, reason = resolve_next(repo, up, mine, rounds)
    first, then = (UP, FORK) if expected_first == "upstream" else (FORK, UP)
    assert text.index(first[rounds]) < text.index(then[rounds])
    assert why in reason


def test_with_the_learned_rule_disabled_history_is_not_read_for_the_order(tmp_path: Path) -> None:
    repo, up, mine = history(tmp_path, 4, upstream_first=True)
    config = load_config_text('[resolve]\ndisable = ["learned"]\n', "test")
    text, reason = resolve_next(repo, up, mine, 4, config)
    assert text.index(FORK[4]) < text.index(UP[4])
    assert "the checked-out side, as git's union merge does" in reason
    assert not (repo.path / ".git" / "forksync" / "learned.json").exists()
