"""YAML key-level merges with comments kept: bytes, a real merge, properties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from forksync.config import Config
from forksync.git import Git
from forksync.resolve.engine import apply_results, read_conflicts, resolve_all
from forksync.resolve.model import Context, Versions
from forksync.resolve.structured_yaml import YamlResolver, merge_yaml
from forksync.resolve.threeway import Decline, Notes
from tests.gitutil import Repo

CI = """# Continuous integration.
name: ci
on:
  push:
    branches: [main]   # protected branches
  pull_request:
    branches:
      - main
jobs:
  test:
    runs-on: ubuntu-latest  # hosted runner
    steps:
      - uses: actions/checkout@v4
      - run: pytest -q
"""


def resolve(base: str | None, fork: str, upstream: str, path: str = ".github/workflows/ci.yml") -> Any:
    v = Versions(path, None if base is None else base.encode(), fork.encode(), upstream.encode())
    return YamlResolver().resolve_file(Context(repo=Path("."), git=Git("."), config=Config()), v)


def load(data: bytes) -> Any:
    return YAML(typ="safe", pure=True).load(data.decode())


def test_fork_ci_trigger_survives_upstream_editing_the_same_lists() -> None:
    fork = CI.replace("[main]", "[main, corp-main]").replace(
        "      - main\n", "      - main\n      - corp-main\n"
    )
    upstream = (
        CI.replace("[main]", "[main, release]")
        .replace("      - main\n", "      - main\n      - release\n")
        .replace("checkout@v4", "checkout@v5")
    )
    d = resolve(CI, fork, upstream)
    assert d is not None and d.rule == "yaml" and d.confidence == 0.95
    data = load(d.content)
    assert data["on"]["push"]["branches"] == ["main", "corp-main", "release"]
    assert data["on"]["pull_request"]["branches"] == ["main", "corp-main", "release"]
    assert data["jobs"]["test"]["steps"][0]["uses"] == "actions/checkout@v5"
    text = d.content.decode()
    assert (
        "# Continuous integration.\n" in text and "# protected branches" in text and "# hosted runner" in text
    )
    assert "on.push.branches: items added on both sides: kept all, in order" in d.details


def test_disjoint_keys_keep_every_untouched_line() -> None:
    fork = CI.replace(
        "    runs-on: ubuntu-latest  # hosted runner\n",
        "    runs-on: ubuntu-latest  # hosted runner\n    timeout-minutes: 30\n",
    )
    upstream = CI.replace("name: ci", "name: CI").replace("pytest -q", "pytest -q -n 2")
    d = resolve(CI, fork, upstream)
    assert d.confidence == 1.0
    assert d.content.decode() == upstream.replace(
        "    runs-on: ubuntu-latest  # hosted runner\n",
        "    runs-on: ubuntu-latest  # hosted runner\n    timeout-minutes: 30\n",
    )


WORKFLOW = """name: test
on:
  push:
    branches:
    - main
  pull_request:

env:
  PYTHON: "3.11"

jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
    - uses: actions/checkout@v4
    - name: Lint
      run: |
        pip install ruff
        ruff check .
  test:
    runs-on: ubuntu-latest
    steps:
    - uses: actions/checkout@v4
    - run: >-
        pytest -q
        --maxfail=1
"""


def test_block_scalars_and_blank_lines_survive_a_workflow_merge() -> None:
    fork = WORKFLOW.replace("    - main\n", "    - main\n    - carto/main\n").replace(
        '  PYTHON: "3.11"\n', '  PYTHON: "3.11"\n  CARTO: "1"  # fork flag\n'
    )
    upstream = WORKFLOW.replace("ruff check .", "ruff check . --fix").replace(
        "    - main\n", "    - main\n    - 'release/**'\n"
    )
    d = resolve(WORKFLOW, fork, upstream)
    assert d.content.decode() == upstream.replace("    - main\n", "    - main\n    - carto/main\n").replace(
        '  PYTHON: "3.11"\n', '  PYTHON: "3.11"\n  CARTO: "1"  # fork flag\n'
    )
    assert not any("comment" in line for line in d.details)  # a blank line that ruamel moved is no news


def test_fork_comment_edit_is_carried() -> None:
    fork = CI.replace("# hosted runner", "# hosted runner, fork: self-hosted later")
    upstream = CI.replace("name: ci", "name: CI")
    d = resolve(CI, fork, upstream)
    assert d.content.decode() == fork.replace("name: ci", "name: CI")


def test_upstream_layout_ruamel_does_not_reproduce_is_kept_away_from_the_edits() -> None:
    base = "a:   1\nlist:\n- x\nb:  {c: 1, d: 2}\nz: 0\n"
    fork = base.replace("z: 0", "z: 5")
    upstream = base.replace("a:   1", "a:   2")
    d = resolve(base, fork, upstream)
    assert d.content.decode() == "a:   2\nlist:\n- x\nb:  {c: 1, d: 2}\nz: 5\n"


def test_same_key_changed_differently_declines() -> None:
    d = resolve(CI, CI.replace("ubuntu-latest", "self-hosted"), CI.replace("ubuntu-latest", "ubuntu-24.04"))
    assert d.confidence == 0.0 and d.content is None and "jobs.test.runs-on" in d.reason


def test_steps_rewritten_on_both_sides_decline_but_appends_merge() -> None:
    fork = CI + "      - run: fork-lint\n"
    upstream = CI + "      - run: mypy\n"
    d = resolve(CI, fork, upstream)
    assert [s.get("run") for s in load(d.content)["jobs"]["test"]["steps"]] == [
        None,
        "pytest -q",
        "mypy",
        "fork-lint",
    ]
    d = resolve(CI, CI.replace("pytest -q", "pytest"), upstream)
    assert d.confidence == 0.0 and "jobs.test.steps" in d.reason


def test_multi_document_and_invalid_files_decline() -> None:
    multi = "a: 1\n---\nb: 2\n"
    assert "2 YAML documents" in resolve(multi, multi.replace("1", "3"), multi.replace("2", "4")).reason
    assert "not valid YAML" in resolve(CI, "a: [1\n", CI.replace("name: ci", "name: CI")).reason


def test_other_paths_are_passed_on() -> None:
    assert resolve(CI, CI, CI, path="ci.json") is None


def test_real_git_merge_resolved_through_the_engine(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    path = ".github/workflows/ci.yml"
    repo.commit({path: CI}, "base")
    repo.git("checkout", "-q", "-b", "upstream")
    upstream = CI.replace("[main]", "[main, release]").replace(
        "runs-on: ubuntu-latest", "runs-on: ubuntu-24.04"
    )
    repo.commit({path: upstream}, "upstream")
    repo.git("checkout", "-q", "main")
    repo.commit({path: CI.replace("[main]", "[main, corp-main]")}, "fork trigger")
    assert "CONFLICT" in repo.git("merge", "upstream", check=False)
    ctx = Context(repo=repo.path, git=Git(repo.path), config=Config())
    results = resolve_all(ctx, read_conflicts(ctx.git))
    assert [(r.path, r.outcome, r.rule) for r in results] == [(path, "resolved", "yaml")]
    apply_results(ctx, results)
    assert repo.git("diff", "--name-only", "--diff-filter=U") == ""
    assert load(repo.read(path).encode())["on"]["push"]["branches"] == ["main", "corp-main", "release"]
    assert "runs-on: ubuntu-24.04  # hosted runner" in repo.read(path)


# -- properties ---------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "name", "x-y"])
SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), st.sampled_from(["s", "t u", "yes", ""]))
VALUES = st.one_of(SCALARS, st.lists(st.sampled_from(["p", "q", "r"]), unique=True, max_size=3))
MAPS = st.dictionaries(KEYS, VALUES, max_size=4)
DOCS = st.fixed_dictionaries({"top": SCALARS}, optional={"m1": MAPS, "m2": MAPS})
STYLES = st.sampled_from([(2, 2, 0), (2, 4, 2)])


@st.composite
def edits(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for _ in range(draw(st.integers(1, 3))):
        table = draw(st.sampled_from(["m1", "m2", "m3"]))
        key = draw(KEYS)
        if table in out and key in out[table] and draw(st.booleans()):
            del out[table][key]
        else:
            out.setdefault(table, {})[key] = draw(VALUES)
    return out


def dump(doc: dict[str, Any], style: tuple[int, int, int]) -> bytes:
    import io

    y = YAML()
    y.indent(mapping=style[0], sequence=style[1], offset=style[2])
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue().encode()


FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data(), DOCS, STYLES)
def test_property_one_sided_and_identical_changes_give_that_change(
    data: st.DataObject, base: Any, style: Any
) -> None:
    changed = dump(data.draw(edits(base)), style)
    b = dump(base, style)
    assert merge_yaml(b, changed, changed, Notes()) == changed
    assert merge_yaml(b, b, changed, Notes()) == changed
    assert load(merge_yaml(b, changed, b, Notes())) == load(changed)


@FAST
@given(st.data(), DOCS, STYLES)
def test_property_keys_added_by_one_side_survive(data: st.DataObject, base: Any, style: Any) -> None:
    fork, upstream = data.draw(edits(base)), data.draw(edits(base))
    fork["fork-only"] = {"k": data.draw(SCALARS)}
    upstream.setdefault("m1", {})["upstream-only"] = data.draw(VALUES)
    try:
        merged = load(merge_yaml(dump(base, style), dump(fork, style), dump(upstream, style), Notes()))
    except Decline:
        return
    assert merged["fork-only"] == fork["fork-only"]
    assert merged["m1"]["upstream-only"] == upstream["m1"]["upstream-only"]


@FAST
@given(DOCS, KEYS, SCALARS, SCALARS)
def test_property_different_changes_to_one_key_are_never_resolved(
    base: Any, key: str, one: Any, other: Any
) -> None:
    fork = {**base, "m1": {**base.get("m1", {}), key: f"fork {one}"}}
    upstream = {**base, "m1": {**base.get("m1", {}), key: f"upstream {other}"}}
    with pytest.raises(Decline):
        merge_yaml(dump(base, (2, 2, 0)), dump(fork, (2, 2, 0)), dump(upstream, (2, 2, 0)), Notes())


def test_sync_branch_cut_from_upstream_merging_the_fork_in(tmp_path: Path) -> None:
    """`--fork theirs`: the fork's side is the one being merged in; roles, not stages, decide."""
    repo = Repo(tmp_path / "r")
    path = ".github/workflows/ci.yml"
    repo.commit({path: CI}, "base")
    repo.git("checkout", "-q", "-b", "upstream")
    repo.commit({path: CI.replace("[main]", "[main, release]").replace("name: ci", "name: CI")}, "upstream")
    repo.git("checkout", "-q", "main")
    repo.commit(
        {path: CI.replace("[main]", "[main, corp-main]").replace("# hosted runner", "# corp runner")}, "fork"
    )
    repo.git("checkout", "-q", "-b", "sync", "upstream")
    assert "CONFLICT" in repo.git("merge", "main", check=False)
    ctx = Context(repo=repo.path, git=Git(repo.path), config=Config())
    [result] = resolve_all(ctx, read_conflicts(ctx.git, fork_side="theirs"))
    assert (result.outcome, result.rule) == ("resolved", "yaml")
    apply_results(ctx, results=[result])
    text = repo.read(path)
    assert load(text.encode())["on"]["push"]["branches"] == ["main", "corp-main", "release"]
    assert text.startswith("# Continuous integration.\nname: CI\n") and "# corp runner" in text


def test_fork_text_ruamel_would_restyle_declines_instead_of_rewriting_it() -> None:
    base = "model_list:\n  - model_name: a\nsettings:\n  x: 1\n"
    fork = base + 'fallbacks: [{"a": ["b"]}]\n'  # ruamel re-emits this as ["a": ["b"]]
    d = resolve(base, fork, base.replace("x: 1", "x: 2"))
    assert d.confidence == 0.0 and "re-style the fork's edits" in d.reason
    plain = resolve(base, base + "fallbacks:\n  - a\n", base.replace("x: 1", "x: 2"))
    assert plain.content.decode() == base.replace("x: 1", "x: 2") + "fallbacks:\n  - a\n"
