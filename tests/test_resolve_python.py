"""python-syntax: both sides only added items at the same place."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from forksync.resolve.python_merge import merge_additions, split_items
from tests.test_engine import conflict_repo, resolve, unmerged


def _run(tmp_path: Path, base: str, fork: str, up: str, name: str = "m.py") -> tuple[int, list[str], str]:
    repo = conflict_repo(tmp_path, {name: base}, {name: fork}, {name: up})
    result = resolve(repo, "--json")
    rules = [h["rule"] for f in json.loads(result.output)["files"] for h in f["hunks"]]
    if result.exit_code == 0:
        assert not unmerged(repo)
    return result.exit_code, rules, repo.read(name)


def test_both_add_functions_checked_out_side_first(tmp_path: Path) -> None:
    base = "def a():\n    return 1\n"
    fork = base + "\n\ndef fork_fn():\n    return 'fork'\n"
    up = base + "\n\ndef up_fn():\n    return 'up'\n"
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 0 and rules == ["python-syntax"]
    # The fork is checked out (a sync branch cut from the fork): its additions come first.
    assert text == base + "\n\ndef fork_fn():\n    return 'fork'\n\n\ndef up_fn():\n    return 'up'\n"
    ast.parse(text)


def test_both_add_methods_and_decorators(tmp_path: Path) -> None:
    base = "class A:\n    def one(self):\n        return 1\n\n\nTAIL = 1\n"
    fork = (
        "class A:\n    def one(self):\n        return 1\n\n    @property\n    def fork_m(self):\n"
        "        return 2\n\n\nTAIL = 1\n"
    )
    up = "class A:\n    def one(self):\n        return 1\n\n    def up_m(self):\n        return 3\n\n\nTAIL = 1\n"
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 0 and rules == ["python-syntax"], rules
    assert text == (
        "class A:\n    def one(self):\n        return 1\n\n    @property\n    def fork_m(self):\n"
        "        return 2\n\n    def up_m(self):\n        return 3\n\n\nTAIL = 1\n"
    )


def test_both_add_dict_entries_and_keyword_arguments(tmp_path: Path) -> None:
    base = 'CONFIG = {\n    "a": 1,\n    "b": 2,\n}\nclient = Client(\n    host=h,\n    port=p,\n)\n'
    fork = (
        'CONFIG = {\n    "a": 1,\n    "b": 2,\n    "fork": 3,\n}\nclient = Client(\n    host=h,\n    port=p,\n'
        "    tenant=t,\n)\n"
    )
    up = (
        'CONFIG = {\n    "a": 1,\n    "b": 2,\n    "up": 4,\n}\nclient = Client(\n    host=h,\n    port=p,\n'
        "    timeout=5,\n)\n"
    )
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 0 and rules == ["python-syntax", "python-syntax"], rules
    assert text == (
        'CONFIG = {\n    "a": 1,\n    "b": 2,\n    "fork": 3,\n    "up": 4,\n}\nclient = Client(\n'
        "    host=h,\n    port=p,\n    tenant=t,\n    timeout=5,\n)\n"
    )


def test_from_import_names_on_one_line(tmp_path: Path) -> None:
    base = "from typing import Any, cast\n\nx = 1\n"
    fork = "from typing import Any, Protocol, cast\n\nx = 1\n"
    up = "from typing import Any, Literal, cast\n\nx = 1\n"
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 0 and rules == ["python-syntax:import-names"]
    assert text == "from typing import Any, Literal, cast, Protocol\n\nx = 1\n"


def test_parenthesized_import_names(tmp_path: Path) -> None:
    base = "from .models import (\n    Alpha,\n    Beta,\n)\n"
    fork = "from .models import (\n    Alpha,\n    Beta,\n    ForkOnly,\n)\n"
    up = "from .models import (\n    Alpha,\n    Beta,\n    Gamma,\n)\n"
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 0 and rules == ["python-syntax"]
    assert text == "from .models import (\n    Alpha,\n    Beta,\n    ForkOnly,\n    Gamma,\n)\n"


def test_same_addition_on_both_sides_counts_once(tmp_path: Path) -> None:
    base = "import os\n"
    fork = "import os\nimport json\nimport fork_mod\n"
    up = "import os\nimport json\nimport up_mod\n"
    code, _rules, text = _run(tmp_path, base, fork, up)
    assert code == 0
    assert text == "import os\nimport json\nimport fork_mod\nimport up_mod\n"


def test_same_name_added_differently_stays_open(tmp_path: Path) -> None:
    base = "A = 1\n"
    fork = "A = 1\nLIMIT = 10\n"
    up = "A = 1\nLIMIT = 20\n"
    code, rules, _text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules


def test_changed_base_item_is_not_an_addition(tmp_path: Path) -> None:
    base = "def f():\n    return 1\n"
    fork = "def f():\n    return 2\n\n\ndef g():\n    pass\n"
    up = "def f():\n    return 3\n\n\ndef h():\n    pass\n"
    code, rules, _text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules


def test_other_languages_are_not_touched(tmp_path: Path) -> None:
    code, rules, _text = _run(tmp_path, "a\n", "a\nfork = 1\n", "a\nup = 2\n", name="m.txt")
    assert code == 1 and rules == ["none"]


def test_split_items() -> None:
    lines = ["@dec\n", "def f():\n", "    pass\n", "\n", "x = (\n", "    1,\n", ")\n"]
    assert split_items(lines) == ["@dec\ndef f():\n    pass\n", "\nx = (\n    1,\n)\n"]
    assert split_items(["    continued,\n", "y = 1\n"]) is None


names = st.lists(st.sampled_from([f"n{i} = {i}\n" for i in range(8)]), unique=True, max_size=5)


@settings(max_examples=150, deadline=None)
@given(names, names, names)
def test_additions_keep_every_item(base: list[str], fork_extra: list[str], up_extra: list[str]) -> None:
    fork = base + [i for i in fork_extra if i not in base]
    up = base + [i for i in up_extra if i not in base]
    merged = merge_additions(base, fork, up)
    assert merged is not None
    items, _shared = merged
    assert set(items) == set(base) | set(fork) | set(up)  # nothing only one side added is lost
    assert len(items) == len(set(items))  # and nothing twice
    assert merge_additions(base, fork, base) == (fork, False)  # with no change upstream: the fork


def test_file_created_on_both_sides_is_not_merged_by_items(tmp_path: Path) -> None:
    repo = conflict_repo(
        tmp_path, {"keep.txt": "k\n"}, {"new.py": "import os\n\nA = 1\n"}, {"new.py": "import sys\n\nB = 2\n"}
    )
    result = resolve(repo, "--json")
    assert result.exit_code == 1
    assert all(h["rule"] != "python-syntax" for f in json.loads(result.output)["files"] for h in f["hunks"])


def test_same_call_added_with_different_arguments_stays_open(tmp_path: Path) -> None:
    base = "def f(data):\n    prepare(data)\n    return data\n"
    fork = "def f(data):\n    prepare(data)\n    move(data=data, name=n)\n    return data\n"
    up = "def f(data):\n    prepare(data)\n    move(data=data, name=n, user=u)\n    return data\n"
    code, rules, _text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules


def test_missing_comma_would_concatenate_strings(tmp_path: Path) -> None:
    base = 'URLS = [\n    "a",\n]\n'
    fork = 'URLS = [\n    "a",\n    "fork"\n]\n'  # the fork's last item has no comma, and it comes first
    up = 'URLS = [\n    "a",\n    "upstream",\n]\n'
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules
    assert '"fork"\n    "upstream"' not in text


def test_two_versions_of_one_addition_stay_open(tmp_path: Path) -> None:
    """Both sides added a helper that shares most of its lines: one change written twice."""
    base = "def a():\n    return 1\n"
    body = (
        "    rows = load(path)\n    rows = [r for r in rows if r.active]\n    return sorted(rows, key=key)\n"
    )
    fork = base + "\n\ndef active_rows(path, key):\n" + body
    up = base + "\n\ndef load_active(path, key=None):\n" + body
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 1 and rules == ["python-syntax"]
    assert "<<<<<<<" in text and "def active_rows" in text and "def load_active" in text


def test_tests_added_on_both_sides_are_left_for_review(tmp_path: Path) -> None:
    base = "def test_a():\n    assert 1\n"
    fork = base + "\n\ndef test_fork_feature():\n    assert fork_feature() == 2\n"
    up = base + "\n\ndef test_up_feature():\n    assert up_feature() == 3\n"
    code, rules, text = _run(tmp_path, base, fork, up, name="tests/test_m.py")
    assert code == 1 and rules == ["python-syntax"]
    assert "<<<<<<<" in text
    # The same additions outside a test file are two independent changes: both kept.
    code, rules, text = _run(tmp_path / "src", base, fork, up, name="pkg/m.py")
    assert code == 0 and "def test_fork_feature" in text and "def test_up_feature" in text


def test_one_value_under_two_keyword_names_is_one_conflict(tmp_path: Path) -> None:
    """Issue 14: both sides passed the same new argument under different names; keeping both
    would raise TypeError (or pass it twice), so the hunk stays open."""
    base = "client = Client(\n    host=h,\n    port=p,\n)\n"
    fork = "client = Client(\n    host=h,\n    port=p,\n    request_timeout=timeout,\n)\n"
    up = "client = Client(\n    host=h,\n    port=p,\n    timeout=timeout,\n)\n"
    code, rules, _text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules


def test_two_positional_arguments_at_one_place_are_one_conflict(tmp_path: Path) -> None:
    base = "run(\n    a,\n    b,\n)\n"
    fork = "run(\n    a,\n    b,\n    fork_arg,\n)\n"
    up = "run(\n    a,\n    b,\n    upstream_arg,\n)\n"
    code, rules, _text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules


def test_keyword_arguments_with_literal_values_are_still_two_additions(tmp_path: Path) -> None:
    base = "run(\n    a,\n    b=1,\n)\n"
    fork = "run(\n    a,\n    b=1,\n    tenant=None,\n)\n"
    up = "run(\n    a,\n    b=1,\n    retries=None,\n)\n"
    code, rules, text = _run(tmp_path, base, fork, up)
    assert code == 0 and rules == ["python-syntax"]
    assert "tenant=None" in text and "retries=None" in text


def test_same_assignment_with_different_values_anywhere_in_the_hunk_is_one_conflict(tmp_path: Path) -> None:
    """Issue 14: `x = 1` and `x = 2` added by the two sides (even at different places of one
    hunk) would both be kept, the second silently overriding the first."""
    base = "A = 1\nB = 2\n"
    fork = "A = 1\nLIMIT = 10\nB = 2\nC = 3\n"
    up = "A = 1\nB = 2\nLIMIT = 20\n"
    code, rules, _text = _run(tmp_path, base, fork, up)
    assert code == 1 and "python-syntax" not in rules
    base = 'settings = {}\nsettings["a"] = 1\n'
    fork = base + 'settings["mode"] = "fork"\n'
    up = base + 'settings["mode"] = "upstream"\n'
    code, rules, _text = _run(tmp_path / "sub", base, fork, up)
    assert code == 1 and "python-syntax" not in rules
