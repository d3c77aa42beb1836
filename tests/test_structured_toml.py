"""TOML key-level merges and pyproject rules: bytes, a real merge, properties."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.engine import apply_results, read_conflicts, resolve_all
from forksync.resolve.model import Context, Versions
from forksync.resolve.structured_toml import TomlResolver, merge_toml
from forksync.resolve.threeway import Decline, Notes
from tests.gitutil import Repo

PYPROJECT = """# The app's metadata.
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "app"
version = "1.0.0"  # set by the release
dependencies = [
    "httpx==0.26.0",  # pinned for the proxy
    "click>=8",
    "pydantic>=2",
]

[project.optional-dependencies]
dev = ["pytest>=8"]

[tool.ruff]
line-length = 100
"""


def resolve(
    base: str | None,
    fork: str,
    upstream: str,
    path: str = "pyproject.toml",
    new_version: str | None = None,
    release: str | None = None,
) -> Any:
    v = Versions(path, None if base is None else base.encode(), fork.encode(), upstream.encode())
    ctx = Context(
        repo=Path("."), git=Git("."), config=Config(), new_version=new_version, upstream_version=release
    )
    return TomlResolver().resolve_file(ctx, v)


def test_pyproject_version_from_the_sync_and_dependencies_per_package() -> None:
    fork = (
        PYPROJECT.replace('version = "1.0.0"', 'version = "1.0.0+fork.3"')
        .replace('"httpx==0.26.0"', '"httpx==0.27.0"')
        .replace('    "pydantic>=2",\n', '    "pydantic>=2",\n    "corp-auth>=1.4",\n')
    )
    upstream = (
        PYPROJECT.replace('version = "1.0.0"', 'version = "1.1.0"')
        .replace('"httpx==0.26.0"', '"httpx==0.26.1"')
        .replace('    "click>=8",\n', "")
        .replace('    "pydantic>=2",\n', '    "pydantic>=2.5",\n    "anyio>=4",\n')
    )
    d = resolve(PYPROJECT, fork, upstream, new_version="1.1.0")
    assert d is not None and d.confidence == 0.95 and d.rule == "toml:version"
    assert d.content.decode() == (
        upstream.replace('"httpx==0.26.1"', '"httpx==0.27.0"').replace(
            '    "anyio>=4",\n', '    "corp-auth>=1.4",\n    "anyio>=4",\n'
        )
    )
    assert "project.version: 1.1.0 (version from the sync)" in d.details
    assert (
        "project.dependencies: kept fork pin httpx==0.27.0 (fork changed it; upstream has httpx==0.26.1)"
        in d.details
    )
    assert "project.dependencies: click>=8 removed by upstream" in d.details


def test_fork_pin_older_than_upstreams_new_pin_declines() -> None:
    fork = PYPROJECT.replace('"httpx==0.26.0"', '"httpx==0.27.0"')
    d = resolve(PYPROJECT, fork, PYPROJECT.replace('"httpx==0.26.0"', '"httpx==0.28.1"'))
    assert d.confidence == 0.0 and "fork's 0.27.0 is older than upstream's 0.28.1" in d.reason


def test_version_without_a_sync_version_is_the_releases_or_the_higher() -> None:
    fork = PYPROJECT.replace("1.0.0", "1.0.0-fork").replace("line-length = 100", "line-length = 120")
    upstream = PYPROJECT.replace("1.0.0", "1.2.0").replace('["pytest>=8"]', '["pytest>=8", "mypy"]')
    d = resolve(PYPROJECT, fork, upstream, release="v1.2.0")
    data = tomllib.loads(d.content.decode())
    assert data["project"]["version"] == "1.2.0" and d.rule == "toml:version"
    assert data["tool"]["ruff"]["line-length"] == 120
    assert data["project"]["optional-dependencies"]["dev"] == ["pytest>=8", "mypy"]
    assert "project.version: 1.2.0 (upstream's version, release v1.2.0)" in d.details
    # no sync version and no release tag: the higher of two ordered versions (a sync brings the
    # newer release), and never a choice between versions that have no order
    d = resolve(PYPROJECT, fork, upstream)
    assert tomllib.loads(d.content.decode())["project"]["version"] == "1.2.0"
    assert "project.version: 1.2.0 (both sides set it: kept the higher (upstream's))" in d.details
    unordered = PYPROJECT.replace("1.0.0", "main").replace("line-length = 100", "line-length = 120")
    d = resolve(PYPROJECT, unordered, upstream.replace("1.2.0", "next"))
    assert d.confidence == 0.0 and "project.version: both sides changed the version" in d.reason
    # only the fork changed it: an ordinary three-way merge keeps the fork's
    d = resolve(PYPROJECT, fork, PYPROJECT.replace('["pytest>=8"]', '["pytest>=8", "mypy"]'))
    assert tomllib.loads(d.content.decode())["project"]["version"] == "1.0.0-fork" and d.rule == "toml"


def test_same_scalar_changed_differently_declines() -> None:
    d = resolve(
        PYPROJECT,
        PYPROJECT.replace("line-length = 100", "line-length = 120"),
        PYPROJECT.replace("line-length = 100", "line-length = 88"),
    )
    assert d.confidence == 0.0 and d.content is None
    assert "tool.ruff.line-length" in d.reason and "differently" in d.reason


def test_plain_toml_files_get_no_pyproject_rules() -> None:
    base = 'version = "1"\n[deps]\nlist = ["a==1"]\n'
    d = resolve(base, base.replace('"1"', '"1-fork"'), base.replace('"1"\n', '"2"\n'), path="conf/app.toml")
    assert d.confidence == 0.0  # a plain version key is just a key changed on both sides
    d = resolve(base, base.replace("a==1", "a==2"), base.replace('["a==1"]', '["a==1", "b"]'), path="x.toml")
    assert d.confidence == 0.0  # not a dependency list outside pyproject: no per-package merge


def test_untouched_bytes_survive_and_new_keys_follow_their_predecessor() -> None:
    fork = (
        PYPROJECT.replace('name = "app"\n', 'name = "app"\ndescription = "fork"\n')
        + "\n[tool.fork]\nflag = true\n"
    )
    upstream = PYPROJECT.replace("# The app's metadata.", "# The app's metadata (v2).").replace("100", "110")
    d = resolve(PYPROJECT, fork, upstream)
    assert d.confidence == 1.0 and d.rule == "toml"
    expected = (
        upstream.replace('name = "app"\n', 'name = "app"\ndescription = "fork"\n')
        + "\n[tool.fork]\nflag = true\n"
    )
    assert d.content.decode() == expected


def test_fork_comment_edits_that_keys_cannot_carry_decline() -> None:
    fork = PYPROJECT.replace("# The app's metadata.", "# The fork's metadata.")
    d = resolve(PYPROJECT, fork, PYPROJECT.replace("100", "110"))
    assert d.confidence == 0.0 and "comments or layout" in d.reason


def test_poetry_dependency_table_fork_pin_wins() -> None:
    base = (
        '[tool.poetry]\nversion = "1.0"\n\n[tool.poetry.dependencies]\npython = "^3.11"\nrequests = "^2.30"\n'
    )
    fork = base.replace('"^2.30"', '"^2.31"')
    upstream = base.replace('"^2.30"', '"^2.32"').replace('version = "1.0"', 'version = "1.1"')
    d = resolve(base, fork, upstream, new_version="1.1")
    assert d.content.decode() == base.replace('"^2.30"', '"^2.31"').replace('"1.0"', '"1.1"')
    assert any("tool.poetry.dependencies.requests: kept fork pin" in x for x in d.details)


def test_invalid_toml_declines() -> None:
    d = resolve(PYPROJECT, "[project\n", PYPROJECT.replace("100", "110"))
    assert d.confidence == 0.0 and "not valid TOML" in d.reason


def test_real_git_merge_resolved_through_the_engine(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"pyproject.toml": PYPROJECT}, "base")
    repo.git("checkout", "-q", "-b", "upstream")
    upstream = PYPROJECT.replace('"1.0.0"', '"1.1.0"').replace('"httpx==0.26.0"', '"httpx==0.26.1"')
    repo.commit({"pyproject.toml": upstream}, "upstream 1.1.0")
    repo.git("checkout", "-q", "main")
    fork = PYPROJECT.replace('"1.0.0"', '"1.0.0.post1"').replace('"httpx==0.26.0"', '"httpx==0.27.0"')
    repo.commit({"pyproject.toml": fork}, "fork pins httpx")
    assert "CONFLICT" in repo.git("merge", "upstream", check=False)
    ctx = Context(repo=repo.path, git=Git(repo.path), config=Config(), new_version="1.1.0")
    results = resolve_all(ctx, read_conflicts(ctx.git))
    assert [(r.path, r.outcome, r.rule) for r in results] == [("pyproject.toml", "resolved", "toml:version")]
    apply_results(ctx, results)
    assert repo.git("diff", "--name-only", "--diff-filter=U") == ""
    assert repo.read("pyproject.toml") == upstream.replace("httpx==0.26.1", "httpx==0.27.0")


# -- properties ---------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "name", "x-y"])
SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), st.text("abz ", max_size=4), st.just(1.5))
VALUES = st.one_of(SCALARS, st.lists(st.integers(0, 3), max_size=3))
TABLES = st.dictionaries(KEYS, VALUES, max_size=4)
DOCS = st.fixed_dictionaries({"top": SCALARS}, optional={"t1": TABLES, "t2": TABLES})


@st.composite
def edits(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for _ in range(draw(st.integers(1, 3))):
        table = draw(st.sampled_from(["t1", "t2", "t3"]))
        key = draw(KEYS)
        if table in out and key in out[table] and draw(st.booleans()):
            del out[table][key]
        else:
            out.setdefault(table, {})[key] = draw(VALUES)
    return out


def dump(doc: dict[str, Any]) -> bytes:
    return tomlkit.dumps(doc).encode()


def plain(data: bytes) -> Any:
    return tomllib.loads(data.decode())


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data(), DOCS)
def test_property_one_sided_and_identical_changes_give_that_change(data: st.DataObject, base: Any) -> None:
    changed = dump(data.draw(edits(base)))
    b = dump(base)
    assert merge_toml(b, changed, changed, Notes()) == changed
    assert merge_toml(b, b, changed, Notes()) == changed
    assert plain(merge_toml(b, changed, b, Notes())) == plain(changed)


@FAST
@given(st.data(), DOCS)
def test_property_keys_added_by_one_side_survive(data: st.DataObject, base: Any) -> None:
    fork, upstream = data.draw(edits(base)), data.draw(edits(base))
    fork["fork-only"] = {"k": data.draw(SCALARS)}
    upstream.setdefault("t1", {})["upstream-only"] = data.draw(SCALARS)
    try:
        merged = plain(merge_toml(dump(base), dump(fork), dump(upstream), Notes()))
    except Decline:
        return
    assert merged["fork-only"] == fork["fork-only"]
    assert merged["t1"]["upstream-only"] == upstream["t1"]["upstream-only"]


@FAST
@given(DOCS, KEYS, SCALARS, SCALARS)
def test_property_different_changes_to_one_key_are_never_resolved(
    base: Any, key: str, one: Any, other: Any
) -> None:
    fork = {**base, "t1": {**base.get("t1", {}), key: f"fork {one}"}}
    upstream = {**base, "t1": {**base.get("t1", {}), key: f"upstream {other}"}}
    with pytest.raises(Decline):
        merge_toml(dump(base), dump(fork), dump(upstream), Notes())
