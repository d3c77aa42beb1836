"""Requirement specifiers changed on both sides merge by meaning (issue 14)."""

from __future__ import annotations

from forksync.resolve.requirements import merge_requirement
from forksync.resolve.structured_toml import merge_toml
from forksync.resolve.threeway import Decline, Notes


def test_two_raised_minimums_keep_the_tighter() -> None:
    merged = merge_requirement("pkg>=1.2", "pkg>=1.4", "pkg>=1.5")
    assert merged is not None and merged[0] == "pkg>=1.5"
    merged = merge_requirement("pkg>=1.2", "pkg>=1.6", "pkg>=1.5")
    assert merged is not None and merged[0] == "pkg>=1.6"


def test_upper_bound_moved_by_upstream_only_is_upstreams() -> None:
    merged = merge_requirement("pkg>=1.0,<2", "pkg>=1.4,<2", "pkg>=1.0,<3")
    assert merged is not None
    text, why = merged
    assert text == "pkg>=1.4,<3" and "upstream" in why


def test_what_cannot_be_read_as_bounds_is_refused() -> None:
    assert merge_requirement("pkg<2", "pkg<3", "pkg<4") is None  # two different upper bounds
    assert merge_requirement("pkg==1.0", "pkg==1.1", "pkg==1.2") is None  # exact pins
    assert merge_requirement("pkg>=1", "pkg[a]>=2", "pkg>=3") is None  # extras differ
    assert merge_requirement("pkg>=1,<5", "pkg>=4", "pkg>=1,<3") is None  # empty range >=4,<3


def test_exclusions_are_a_three_way_set() -> None:
    merged = merge_requirement("pkg>=1,!=1.3", "pkg>=1.1,!=1.3,!=1.5", "pkg>=1,!=1.3,!=1.6")
    assert merged is not None and merged[0] == "pkg>=1.1,!=1.3,!=1.5,!=1.6"


BASE = '[project]\nname = "app"\ndependencies = [\n    "httpx>=0.20",\n    "mcp>=1.20",\n]\n'


def test_pyproject_keeps_upstreams_security_bump() -> None:
    fork = BASE.replace("mcp>=1.20", "mcp>=1.22")
    up = BASE.replace("mcp>=1.20", "mcp>=1.25.0")
    notes = Notes()
    out = merge_toml(BASE.encode(), fork.encode(), up.encode(), notes, pyproject=True).decode()
    assert '"mcp>=1.25.0"' in out and "1.22" not in out
    assert any("tighter" in line for line in notes.lines)


def test_pyproject_both_replacing_one_package_declines() -> None:
    base = '[build-system]\nrequires = ["hatchling>=1.0"]\n'
    fork = '[build-system]\nrequires = ["setuptools>=68"]\n'
    up = '[build-system]\nrequires = ["flit_core>=3.9"]\n'
    try:
        merge_toml(base.encode(), fork.encode(), up.encode(), Notes(), pyproject=True)
    except Decline as exc:
        assert "replaced hatchling" in str(exc)
    else:
        raise AssertionError("a list both sides rewrote differently must not be unioned")
