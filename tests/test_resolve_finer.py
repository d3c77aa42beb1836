"""finer: adjacent but independent edits, by line and by word."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.finer import FinerResolver, merge3
from forksync.resolve.model import Context, Hunk, Versions
from tests.test_engine import conflict_repo, resolve, unmerged


def _rules(output: str) -> list[str]:
    return [h["rule"] for f in json.loads(output)["files"] for h in f["hunks"]]


def test_adjacent_line_edits_are_both_kept(tmp_path: Path) -> None:
    base = "host = 'a'\nport = 1\nuser = 'u'\n"
    fork = "host = 'fork'\nport = 1\nuser = 'u'\n"
    up = "host = 'a'\nport = 2\nuser = 'u'\n"
    repo = conflict_repo(tmp_path, {"c.py": base}, {"c.py": fork}, {"c.py": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert _rules(result.output) in (["finer:lines"], ["finer:words"])
    assert repo.read("c.py") == "host = 'fork'\nport = 2\nuser = 'u'\n"
    assert not unmerged(repo)


def test_insertion_right_before_a_changed_line_stays_open(tmp_path: Path) -> None:
    """Upstream adds branches before a `return` the fork changed: one change of meaning (seen in
    CartoDB/litellm, where the person kept upstream's return), so no finer merge."""
    base = "def f(m):\n    x = 1\n    return Old()\n"
    fork = "def f(m):\n    x = 1\n    return New()\n"
    up = "def f(m):\n    x = 1\n    if m:\n        return Mistral()\n    return Old()\n"
    repo = conflict_repo(tmp_path, {"c.py": base}, {"c.py": fork}, {"c.py": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 1
    assert "finer:lines" not in _rules(result.output)


def test_different_words_of_one_line(tmp_path: Path) -> None:
    base = "x\nresult = compute(alpha, beta, gamma)\ny\n"
    fork = "x\nresult = compute(alpha, beta_fork, gamma)\ny\n"
    up = "x\nresult = compute(alpha_up, beta, gamma)\ny\n"
    repo = conflict_repo(tmp_path, {"w.py": base}, {"w.py": fork}, {"w.py": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert _rules(result.output) == ["finer:words"]
    assert repo.read("w.py") == "x\nresult = compute(alpha_up, beta_fork, gamma)\ny\n"


def test_same_word_changed_differently_stays_open(tmp_path: Path) -> None:
    base = "limit = compute(10, mode)\n"
    fork = "limit = compute(20, mode)\n"
    up = "limit = compute(30, mode)\n"
    repo = conflict_repo(tmp_path, {"l.py": base}, {"l.py": fork}, {"l.py": up})
    before = (repo.path / "l.py").read_bytes()
    result = resolve(repo)
    assert result.exit_code == 1
    assert (repo.path / "l.py").read_bytes() == before


def test_touching_words_stay_open(tmp_path: Path) -> None:
    # Edits to neighbouring words are likely one thought: no word-level merge.
    base = "call(a.b)\n"
    fork = "call(x.b)\n"
    up = "call(a,b)\n"
    repo = conflict_repo(tmp_path, {"t.py": base}, {"t.py": fork}, {"t.py": up})
    assert resolve(repo).exit_code == 1


def test_both_inserting_at_one_place_is_not_finer(tmp_path: Path) -> None:
    assert merge3(["a", "b"], ["a", "x", "b"], ["a", "y", "b"]) is None
    assert merge3(["a", "b", "c"], ["A", "b", "c"], ["a", "b", "C"]) == ["A", "b", "C"]
    assert merge3(["a", "b"], ["a", "B"], ["a", "B"]) == ["a", "B"]
    assert merge3(["a", "b", "c"], ["a", "X", "c"], ["a", "Y", "c"]) is None


lines = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=8)


@settings(max_examples=200, deadline=None)
@given(lines, lines)
def test_merge_with_no_change_returns_the_change(base: list[str], side: list[str]) -> None:
    assert merge3(base, side, base) == side
    assert merge3(base, base, side) == side
    assert merge3(base, side, side) == side


@settings(max_examples=200, deadline=None)
@given(lines, lines, lines)
def test_merge_is_symmetric(base: list[str], fork: list[str], up: list[str]) -> None:
    # No side is favoured: edits either clash (None both ways) or land at their own places.
    assert merge3(base, fork, up) == merge3(base, up, fork)


def test_interleaved_edits_stay_open(tmp_path: Path) -> None:
    # The fork inserted lines on both sides of a line upstream rewrote: one thought, not two.
    base = "start\nmiddle\nend\n"
    fork = "start\nfork before\nmiddle\nfork after\nend\n"
    up = "start\nMIDDLE\nend\n"
    repo = conflict_repo(tmp_path, {"i.txt": base}, {"i.txt": fork}, {"i.txt": up})
    assert resolve(repo).exit_code == 1


def test_large_hunk_is_not_realigned(tmp_path: Path) -> None:
    body = [f"line {i}\n" for i in range(20)]
    fork = ["fork top\n", *body[:-1], "fork tail\n"]
    up = [*body[:5], "upstream\n", *body[5:-1], "upstream tail\n"]
    repo = conflict_repo(tmp_path, {"b.txt": "".join(body)}, {"b.txt": "".join(fork)}, {"b.txt": "".join(up)})
    result = resolve(repo, "--json")
    assert "finer:lines" not in [h["rule"] for f in json.loads(result.output)["files"] for h in f["hunks"]]


def test_deletion_next_to_an_edit_stays_open(tmp_path: Path) -> None:
    base = "args = join(parts)\nresult.append(\n    Call(args)\n)\nreturn result\n"
    fork = "raw = join(parts)\nargs = repair(raw)\nresult.append(\n    Call(args)\n)\nreturn result\n"
    up = "args = join(parts)\nreturn result\n"  # upstream removed the block (moved it)
    repo = conflict_repo(tmp_path, {"d.py": base}, {"d.py": fork}, {"d.py": up})
    assert resolve(repo).exit_code == 1


def test_rewrite_cut_at_stray_anchors_stays_open(tmp_path: Path) -> None:
    # The shape of a real CartoDB/litellm hunk: upstream rewrote the block, and difflib finds
    # anchors in two unchanged argument lines that cut the rewrite into pieces.
    base = (
        "c = join(d) or '{}'\n",
        "out.append(\n",
        "    Call(\n",
        "        id=d.id,\n",
        "        fn=Fn(\n",
        "            arguments=c,\n",
        "            name=d.name,\n",
        "        ),\n",
        "        type=d.type,\n",
        "    )\n",
    )
    fork = ("raw = join(d)\n", "c = repair(raw)\n", *base[1:])
    up = (
        "c = join(d) or '{}'\n",
        "\n",
        "# build the function first\n",
        "fn = Fn(\n",
        "            arguments=c,\n",
        "            name=d.name,\n",
        ")\n",
    )
    hunk = Hunk(1, base, fork, up, 1)
    ctx = Context(tmp_path, Git(tmp_path), Config())
    assert FinerResolver().resolve_hunk(ctx, Versions("b.py", b"", b"", b""), hunk) is None


def test_edits_inside_one_name_stay_open(tmp_path: Path) -> None:
    """Seen in CartoDB/litellm: sub-word edits to one model name made a name neither side had."""
    base = "models:\n  - model_name: gpt-5-mini\n"
    fork = "models:\n  - model_name: openai/gpt-4o-mini\n"
    up = "models:\n  - model_name: gpt-5-codex\n"
    repo = conflict_repo(tmp_path, {"c.txt": base}, {"c.txt": fork}, {"c.txt": up})
    before = (repo.path / "c.txt").read_bytes()
    assert resolve(repo).exit_code == 1
    assert (repo.path / "c.txt").read_bytes() == before


def test_the_same_words_added_twice_stay_open(tmp_path: Path) -> None:
    """Both sides added `python3 py3-pip` (in different edits): merging would install them twice."""
    base = "FROM alpine\nRUN apk add bash libstdc++ ca-certificates openssl supervisor\n"
    fork = "FROM alpine\nRUN apk add python3 py3-pip bash libstdc++ ca-certificates openssl supervisor\n"
    up = "FROM alpine\nRUN apk add bash libstdc++ ca-certificates openssl supervisor python3 py3-pip\n"
    assert merge3(["a", "b"], ["x", "a", "b"], ["a", "b", "x"]) is None
    repo = conflict_repo(tmp_path, {"Dockerfile": base}, {"Dockerfile": fork}, {"Dockerfile": up})
    assert resolve(repo).exit_code == 1
    assert "py3-pip bash" in repo.read("Dockerfile") and "<<<<<<<" in repo.read("Dockerfile")


def test_a_signature_rewritten_on_both_sides_stays_open(tmp_path: Path) -> None:
    """Issue 14: two rewrites of one declaration merged word by word give a signature neither
    side wrote (or two declarations); the hunk stays open."""
    base = "class A:\n    def send(self, msg):\n        return msg\n"
    fork = "class A:\n    def send(self, msg, tenant=None):\n        return msg\n"
    up = "class A:\n    async def send(self, msg):\n        return msg\n"
    repo = conflict_repo(tmp_path, {"c.py": base}, {"c.py": fork}, {"c.py": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 1, result.output
    assert not any(r.startswith("finer") for r in _rules(result.output))


def test_words_of_an_ordinary_line_still_merge(tmp_path: Path) -> None:
    base = "x = call(a, b)\n"
    fork = "x = call(a2, b)\n"
    up = "x = call(a, b2)\n"
    d = FinerResolver()._by_words((base,), (fork,), (up,))
    assert d == ("x = call(a2, b2)\n",)
