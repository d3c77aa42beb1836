"""Backtest on a built history whose answers are known, file by file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from forksync.backtest import Backtest, MergeSpec, find_merges, render, replay, summary, verdict, ws_normal
from forksync.cli import main
from forksync.commands.backtest import UsageError
from forksync.commands.backtest import run as run_backtest
from forksync.config import Config
from forksync.errors import GitError
from forksync.git import Git
from forksync.resolve.engine import Chain
from forksync.resolve.history import HistoryResolver
from forksync.resolve.learned import LearnedResolver
from forksync.resolve.model import Context
from tests.gitutil import Repo

LINES = [f"line {i}\n" for i in range(1, 11)]


def text(**changes: str) -> str:
    lines = list(LINES)
    for key, value in changes.items():
        lines[int(key[1:]) - 1] = value + "\n"
    return "".join(lines)


def history_only(ctx: Context) -> Chain:
    """A fixed chain, so the expected verdicts do not depend on other resolvers."""
    return Chain([HistoryResolver()], [LearnedResolver()])


@pytest.fixture
def built(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    repo = Repo(tmp_path / "r")
    names = ["a.py", "b.py", "c.py", "d.py", "e.txt", "g.py"]
    repo.commit({n: text() for n in names}, "base")
    repo.git("branch", "up")
    repo.git("checkout", "-q", "up")
    repo.commit({n: text(l2="v1") for n in ("a.py", "b.py", "d.py", "e.txt")}, "upstream v1")
    repo.commit(
        {**{n: text(l2="v2") for n in ("a.py", "b.py", "d.py", "e.txt")}, "c.py": text(l2="up c")},
        "upstream v2",
    )
    repo.git("checkout", "-q", "main")
    repo.commit(
        {**{n: text(l2="v1") for n in ("a.py", "b.py", "d.py", "e.txt")}, "c.py": text(l2="fork c")},
        "squashed sync of v1, and a fork customization of c.py",
    )
    repo.git("merge", "-q", "--no-edit", "up", check=False)
    repo.write(
        {
            "a.py": text(l2="v2"),  # upstream's version: exact
            "b.py": text(l2="v2", l5="line  5"),  # upstream's, respaced: equal up to whitespace
            "c.py": text(l2="fork c, up c"),  # a real hand merge: left open
            "d.py": text(l2="v1"),  # the fork's stale copy was kept: taking upstream scores wrong
            "e.txt": text(l2="by hand"),  # its blob is removed below: missing
        }
    )
    repo.git("commit", "-q", "-a", "-m", "sync v2")
    m1 = repo.head()
    repo.git("checkout", "-q", "up")
    repo.commit({"z.txt": "z\n"}, "upstream z")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-edit", "up")
    m2 = repo.head()  # clean
    repo.git("checkout", "-q", "up")
    repo.commit({"g.py": text(l3="g1")}, "upstream g1")
    repo.commit({"g.py": text(l3="g2")}, "upstream g2")
    repo.git("checkout", "-q", "main")
    repo.commit({"g.py": text(l3="g1")}, "squashed copy of g1")
    # The other flow: a sync branch cut from upstream merges the fork in, so the fork is p2.
    repo.git("checkout", "-q", "-b", "sync", "up")
    repo.git("merge", "-q", "--no-edit", "main", check=False)
    repo.write({"g.py": text(l3="g2")})
    repo.git("commit", "-q", "-a", "-m", "sync g2")
    m3 = repo.head()
    blob = repo.git("rev-parse", f"{m1}:e.txt")
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    return repo, {"m1": m1, "m2": m2, "m3": m3}


def verdicts(bt: Backtest) -> dict[str, str]:
    return {f.path: f.verdict for m in bt.merges for f in m.files}


def test_each_file_is_scored_against_the_committed_merge(built: tuple[Repo, dict[str, str]]) -> None:
    repo, m = built
    specs = [MergeSpec(m["m1"], "p1", "upstream_sync"), MergeSpec(m["m3"], "p2", "upstream_sync")]
    bt = replay(Git(repo.path), Config(), specs, chain=history_only)
    assert verdicts(bt) == {
        "a.py": "exact",
        "b.py": "ws-equal",
        "c.py": "unresolved",
        "d.py": "wrong",
        "e.txt": "missing",
        "g.py": "exact",
    }
    wrong = [f for mm in bt.merges for f in mm.files if f.verdict == "wrong"]
    assert wrong[0].rule == "history:fork-is-upstream-version"
    assert wrong[0].delta == 2  # "v2" taken where "v1" was kept
    assert wrong[0].difference == "loss"  # the fork's "v1", which people kept, is gone
    s = summary(bt)
    assert s["conflicted_files"] == 6 and s["scored_files"] == 5
    assert s["percent"] == {"exact": 40.0, "ws-equal": 20.0, "unresolved": 20.0, "wrong": 20.0, "error": 0.0}
    assert s["percent_exact_or_ws"] == 60.0
    assert s["percent_loss"] == 20.0 and s["wrong_by_difference"]["loss"] == 1
    assert s["counts"]["missing"] == 1
    out = render(bt)
    assert "  history:fork-is-upstream-version         exact 2  wrong 1" in out
    cases = out.split("worst cases:\n")[1].splitlines()
    assert [c.split()[0] for c in cases] == ["wrong", "unresolved"]
    assert "d.py  [history:fork-is-upstream-version]" in cases[0] and "(loss, differs by 2 lines)" in cases[0]
    assert "of the wrong: 1 lose what a side wrote (20.0%)" in out


def test_fork_side_per_merge_matters(built: tuple[Repo, dict[str, str]]) -> None:
    repo, m = built
    right = replay(Git(repo.path), Config(), [MergeSpec(m["m3"], "p2")], chain=history_only)
    wrong_side = replay(Git(repo.path), Config(), [MergeSpec(m["m3"], "p1")], chain=history_only)
    assert verdicts(right) == {"g.py": "exact"}
    assert verdicts(wrong_side) == {"g.py": "unresolved"}


def test_find_merges_skips_clean_ones(built: tuple[Repo, dict[str, str]]) -> None:
    repo, m = built
    git = Git(repo.path)
    assert [s.sha for s in find_merges(git, 10, "sync")] == [m["m3"], m["m1"]]
    assert [s.sha for s in find_merges(git, 1, "sync")] == [m["m3"]]
    bt = replay(git, Config(), [MergeSpec(m["m2"])], chain=history_only)
    assert bt.merges[0].skipped == "the parents merge without conflicts"


def test_verdict_and_whitespace_rules() -> None:
    assert verdict(b"a\n", b"a\n") == "exact"
    assert verdict(None, None) == "exact"
    assert verdict(None, b"a\n") == "wrong"
    assert verdict(b"a  b\n\n", b"a b\n") == "ws-equal"
    assert verdict(b"a\n", b"b\n") == "wrong"
    assert verdict(b"\0x", b"\0y") == "binary"
    assert ws_normal(b"  x\t y \r\n\n") == ["x y"]


def test_command_json_and_errors(
    built: tuple[Repo, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, m = built
    assert run_backtest(repo.path, None, 5, [m["m1"]], as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    (merge,) = data["merges"]
    assert merge["sha"] == m["m1"] and len(merge["files"]) == 5
    assert data["summary"]["conflicted_files"] == 5
    assert run_backtest(repo.path, None, 5, [m["m3"] + ":p2"], as_json=True) == 0
    (merge,) = json.loads(capsys.readouterr().out)["merges"]
    assert merge["fork_side"] == "p2" and merge["files"][0]["path"] == "g.py"
    with pytest.raises(UsageError):
        run_backtest(repo.path, None, 5, [m["m1"] + "^"], as_json=False)
    with pytest.raises(GitError):
        run_backtest(repo.path, None, 5, ["no-such-rev"], as_json=False)
    result = CliRunner().invoke(main, ["backtest", "--repo", str(repo.path), "--limit", "0"])
    assert result.exit_code == 2 and "--limit must be at least 1" in result.output
    result = CliRunner().invoke(main, ["backtest", "--repo", str(repo.path), "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "conflicted files" in result.output and "2 merges replayed" in result.output


def test_a_lock_file_counts_as_open_because_a_replay_cannot_regenerate_it(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"poetry.lock": "[[package]]\nname = 'a'\n"}, "base")
    base = repo.head()
    repo.commit({"poetry.lock": "[[package]]\nname = 'a'\n[[package]]\nname = 'fork'\n"}, "fork dep")
    repo.git("checkout", "-q", "-b", "up", base)
    repo.commit({"poetry.lock": "[[package]]\nname = 'a'\n[[package]]\nname = 'up'\n"}, "up dep")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-edit", "up", check=False)
    (repo.path / "poetry.lock").write_text(
        "[[package]]\nname = 'a'\n[[package]]\nname = 'fork'\nname = 'up'\n"
    )
    repo.git("commit", "-q", "-a", "-m", "relocked by hand")
    bt = replay(Git(repo.path), Config(), [MergeSpec(repo.head())])
    (f,) = bt.merges[0].files
    assert f.verdict == "unresolved" and f.rule.startswith("policy:") and "not replayable" in f.reason
