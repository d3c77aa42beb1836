"""Line-set merges (requirements, constraints, ignore files): bytes, a real merge, properties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.engine import apply_results, read_conflicts, resolve_all
from forksync.resolve.linesets import LineSetResolver, is_lineset, merge_lines
from forksync.resolve.model import Context, Versions
from forksync.resolve.threeway import Decline, Notes
from tests.gitutil import Repo


def resolve(base: str | None, fork: str, upstream: str, path: str = "requirements.txt") -> Any:
    v = Versions(path, None if base is None else base.encode(), fork.encode(), upstream.encode())
    return LineSetResolver().resolve_file(Context(repo=Path("."), git=Git("."), config=Config()), v)


REQS = "# runtime\nrequests==2.30.0\nclick>=8\n\n# http\nhttpx==0.26\n"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("requirements.txt", True),
        ("requirements-dev.txt", True),
        ("sub/requirements/base.txt", True),
        ("constraints.txt", True),
        (".gitignore", True),
        ("web/.dockerignore", True),
        (".prettierignore", True),
        ("notes.txt", False),
        ("gitignore", False),
        ("requirements.in", False),
    ],
)
def test_paths(path: str, expected: bool) -> None:
    assert is_lineset(path) is expected


def test_requirements_union_fork_pin_and_upstream_bumps() -> None:
    fork = REQS.replace("requests==2.30.0", "requests==2.31.0  # fork needs the fix").replace(
        "click>=8\n", "click>=8\nfork-auth==1.2\n"
    )
    upstream = REQS.replace("httpx==0.26", "httpx==0.27\nanyio>=4").replace("click>=8", "Click>=8.1")
    d = resolve(REQS, fork, upstream)
    assert d is not None and d.rule == "lineset" and d.confidence == 1.0
    assert d.content.decode() == (
        "# runtime\nrequests==2.31.0  # fork needs the fix\nClick>=8.1\nfork-auth==1.2\n\n# http\nhttpx==0.27\nanyio>=4\n"
    )
    assert "fork-auth: added by the fork (fork-auth==1.2)" in d.details


def test_both_repinned_same_package_fork_pin_wins_unless_it_downgrades() -> None:
    d = resolve(REQS, REQS.replace("httpx==0.26", "httpx==0.28"), REQS.replace("httpx==0.26", "httpx==0.27"))
    assert b"httpx==0.28\n" in d.content and b"0.27" not in d.content
    assert d.confidence == 0.95
    assert any("kept fork pin httpx==0.28 (fork changed it" in line for line in d.details)
    d = resolve(REQS, REQS.replace("httpx==0.26", "httpx==0.27"), REQS.replace("httpx==0.26", "httpx==0.28"))
    assert d.confidence == 0.0 and "the fork's 0.27 is older than upstream's 0.28" in d.reason
    d = resolve(REQS, REQS.replace("click>=8", "click>=8,<8.2"), REQS.replace("click>=8", "click>=8.1"))
    assert b"click>=8,<8.2\n" in d.content  # ranges: the fork's constraint stands


def test_deletions_respected_and_delete_versus_repin_declines() -> None:
    d = resolve(REQS, REQS.replace("click>=8\n", ""), REQS.replace("httpx==0.26", "httpx==0.27"))
    assert d.content.decode() == REQS.replace("click>=8\n", "").replace("0.26", "0.27")
    d = resolve(REQS, REQS.replace("click>=8\n", ""), REQS.replace("click>=8", "click>=9"))
    assert d.confidence == 0.0 and d.content is None and "click" in d.reason


def test_hash_continuations_and_duplicate_packages_decline() -> None:
    hashed = REQS.replace("click>=8", "click==8.1 \\\n    --hash=sha256:abc")
    assert resolve(REQS, hashed, REQS.replace("0.26", "0.27")).confidence == 0.0
    d = resolve(REQS, REQS + "requests>=2\n", REQS.replace("0.26", "0.27"))
    assert d.confidence == 0.0 and "requests is listed twice" in d.reason


def test_credentials_in_requirement_urls_never_reach_the_details() -> None:
    fork = REQS + "corp-lib @ git+https://bot:s3cr3t-value-123@git.example.com/corp-lib.git\n"
    d = resolve(REQS, fork, REQS.replace("0.26", "0.27"))
    assert d.confidence == 1.0 and b"s3cr3t-value-123" in d.content  # the file itself is the fork's to keep
    assert any("corp-lib" in line for line in d.details)
    assert not any("s3cr3t-value-123" in line for line in (*d.details, d.reason))


def test_gitignore_union_keeps_comments_order_and_crlf() -> None:
    base = "# build\nbuild/\ndist/\n\n*.pyc\n"
    fork = "# build\nbuild/\nfork-out/\ndist/\n\n*.pyc\n.fork-cache/\n"
    upstream = "# build output\nbuild/\ndist/\n\n*.pyc\n.venv/\n"
    d = resolve(base, fork, upstream, path=".gitignore")
    assert d.content == b"# build output\nbuild/\nfork-out/\ndist/\n\n*.pyc\n.fork-cache/\n.venv/\n"
    crlf = resolve(*(x.replace("\n", "\r\n") for x in (base, fork, upstream)), path=".gitignore")
    assert crlf.content == d.content.replace(b"\n", b"\r\n")


def test_real_git_merge_resolved_through_the_engine(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"requirements.txt": REQS, ".gitignore": "build/\n"}, "base")
    repo.git("checkout", "-q", "-b", "upstream")
    repo.commit({"requirements.txt": REQS.replace("click>=8", "click>=8.1\nrich>=13")}, "upstream")
    repo.git("checkout", "-q", "main")
    repo.commit({"requirements.txt": REQS.replace("click>=8", "click>=8\nfork-lib==2")}, "fork")
    assert "CONFLICT" in repo.git("merge", "upstream", check=False)
    ctx = Context(repo=repo.path, git=Git(repo.path), config=Config())
    results = resolve_all(ctx, read_conflicts(ctx.git))
    assert [(r.path, r.outcome, r.rule) for r in results] == [("requirements.txt", "resolved", "lineset")]
    apply_results(ctx, results)
    assert repo.git("diff", "--name-only", "--diff-filter=U") == ""
    assert repo.read("requirements.txt") == REQS.replace("click>=8", "click>=8.1\nfork-lib==2\nrich>=13")


# -- properties ---------------------------------------------------------------------------

NAMES = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
PINS = st.sampled_from(["", "==1.0", ">=2", "<3", "==1.0.post1"])


@st.composite
def requirement_files(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    return {n: draw(PINS) for n in names}


@st.composite
def changed(draw: st.DrawFn, reqs: dict[str, str]) -> dict[str, str]:
    out = dict(reqs)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(NAMES))
        if name in out and draw(st.booleans()):
            del out[name]
        else:
            out[name] = draw(PINS)
    return out


def text(reqs: dict[str, str]) -> bytes:
    return "".join(f"{n}{pin}\n" for n, pin in reqs.items()).encode()


def parsed(data: bytes) -> dict[str, str]:
    out = {}
    for line in data.decode().splitlines():
        name = next(n for n in NAMES if line.startswith(n))
        out[name] = line[len(name) :]
    return out


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data(), requirement_files())
def test_property_one_sided_and_identical_changes_give_that_change(
    data: st.DataObject, base: dict[str, str]
) -> None:
    change = text(data.draw(changed(base)))
    b = text(base)
    assert merge_lines(b, change, change, Notes(), requirements=True) == change
    assert merge_lines(b, b, change, Notes(), requirements=True) == change
    assert parsed(merge_lines(b, change, b, Notes(), requirements=True)) == parsed(change)


@FAST
@given(st.data(), requirement_files())
def test_property_additions_survive_and_fork_pins_win(data: st.DataObject, base: dict[str, str]) -> None:
    fork, upstream = data.draw(changed(base)), data.draw(changed(base))
    try:
        merged = parsed(merge_lines(text(base), text(fork), text(upstream), Notes(), requirements=True))
    except Decline as exc:
        assert "removed by" in str(exc) or "is older than" in str(exc)  # delete/re-pin, or a downgrade
        return
    for name, pin in fork.items():
        if base.get(name) != pin:
            assert merged[name] == pin  # the fork changed it: the fork's pin
    for name, pin in upstream.items():
        if name not in base and name not in fork:
            assert merged[name] == pin  # added by upstream only: kept
        if name in base and base[name] == fork.get(name) and pin != base[name]:
            assert merged[name] == pin  # bumped by upstream only
    for name in base:
        if (name not in fork and upstream.get(name) == base[name]) or (
            name not in upstream and fork.get(name) == base[name]
        ):
            assert name not in merged  # deletions respected
