"""Release detection: patterns, stable-only, version order (not string order)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from forksync.config import Config, load_config_text
from forksync.errors import UpstreamError
from forksync.git import Git
from forksync.releases import (
    Release,
    compare_from,
    detect,
    included_releases,
    stable_releases,
    tag_version,
)
from tests.gitutil import Repo


def cfg(text: str = "") -> Config:
    return load_config_text(text, "test.toml")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.2.3", "1.2.3"),
        ("v1.2.3-stable", "1.2.3"),
        ("v1.2.3-rc1", None),
        ("v1.2.3-nightly", None),
        ("v1.2.3.dev4", None),
        ("1.2.3", None),  # default pattern wants the v
        ("v1.2", None),
        ("nightly-2026-11-24", None),
    ],
)
def test_default_pattern(tag: str, expected: str | None) -> None:
    v = tag_version(tag, cfg())
    assert (str(v) if v else None) == expected


def test_glob_pattern_and_exclusions() -> None:
    c = cfg("[upstream]\nrelease-tags = 'release-*'\n")
    assert str(tag_version("release-2.0.1", c)) == "2.0.1"
    assert tag_version("release-2.0.1-beta", c) is None
    assert tag_version("release-2.1.0rc2", c) is None
    assert tag_version("v2.0.1", c) is None


def test_order_is_by_version_not_string() -> None:
    tags = {
        "v1.9.0": "a" * 40,
        "v1.10.0": "b" * 40,
        "v1.10.0-rc1": "c" * 40,
        "v1.2.0": "d" * 40,
        "v1.10.0-stable": "e" * 40,
        "--upload-pack=x": "f" * 40,
    }
    rels = stable_releases(tags, cfg())
    assert [r.tag for r in rels] == ["v1.10.0", "v1.9.0", "v1.2.0"]


def test_detect_lists_tags_without_fetching(tmp_path: Path) -> None:
    up = Repo(tmp_path / "up")
    up.commit({"a": "1"}, "one")
    up.tag("v0.9.0")
    up.commit({"a": "2"}, "two")
    up.tag("v0.10.0", message="annotated")
    up.tag("v0.11.0-rc1")
    fork = Repo(tmp_path / "fork")
    fork.commit({"b": "1"}, "unrelated")
    rels, tags = detect(Git(fork.path), cfg(), str(up.path))
    assert [r.tag for r in rels] == ["v0.10.0", "v0.9.0"]
    assert rels[0].commit == up.head()  # annotated tags are peeled to their commit
    assert "v0.11.0-rc1" in tags
    assert fork.git("for-each-ref").count("refs/tags") == 0  # nothing fetched


def test_no_release_is_a_clear_error(tmp_path: Path) -> None:
    up = Repo(tmp_path / "up")
    up.commit({"a": "1"}, "one")
    up.tag("nightly")
    with pytest.raises(UpstreamError, match="no stable release"):
        detect(Git(tmp_path), cfg(), str(up.path))


def test_included_releases_are_in_the_window_and_in_the_history() -> None:
    rels = [
        Release(f"v{v}", Version(v), c)
        for v, c in [("1.3.0", "t"), ("1.2.5", "a"), ("1.2.1", "b"), ("1.1.0", "c")]
    ]
    target = rels[0]
    # 1.2.5 sorts in the window but sits on a release branch: not brought by the merge.
    assert included_releases(rels, target, Version("1.1.0"), {"t", "b", "x"}) == [rels[2]]
    assert included_releases(rels, target, None, {"t", "a", "b", "c"}) == rels[1:]
    assert included_releases(rels, target, Version("1.2.5"), {"a", "b"}) == []


def test_compare_starts_at_the_previous_tag_only_when_it_is_the_merge_base() -> None:
    prev = Release("v1.1.0", Version("1.1.0"), "c" * 40)
    assert compare_from("c" * 40, prev) == "v1.1.0"
    assert compare_from("d" * 40, prev) == "d" * 40
    assert compare_from("d" * 40, None) == "d" * 40
