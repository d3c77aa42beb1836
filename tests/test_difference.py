"""How a replayed file that differs from the committed one is classed: a loss or an alternative."""

from __future__ import annotations

from forksync.difference import classify

BASE = b"a = 1\nb = 2\n"
FORK = b"a = 1\nb = 2\nfork = 3\n"
UP = b"a = 1\nb = 2\nup = 4\n"
SIDES = (BASE, FORK, UP)


def test_committed_markers_are_a_broken_target() -> None:
    want = b"a = 1\nb = 2\n<<<<<<< HEAD\nfork = 3\n=======\nup = 4\n>>>>>>> main\n"
    assert classify("m.py", b"a = 1\nb = 2\nfork = 3\nup = 4\n", want, SIDES) == "committed-broken"


def test_committed_python_that_does_not_parse_is_a_broken_target() -> None:
    want = b"try:\n    x = 1\nprint(x)\n"
    assert classify("t.py", b"try:\n    x = 1\nexcept E:\n    pass\n", want, SIDES) == "committed-broken"


def test_committed_json_that_does_not_parse_is_a_broken_target() -> None:
    got = b'{\n  "a": {\n    "x": 1\n  },\n  "b": 2\n}\n'
    want = b'{\n  "a": {\n    "x": 1\n  "b": 2\n}\n'
    assert classify("prices.json", got, want, SIDES) == "committed-broken"


def test_both_broken_is_a_loss_not_an_excuse() -> None:
    got = b"try:\n    x = 1\n"
    want = b"try:\n    x = 2\n"
    assert classify("t.py", got, want, SIDES) == "loss"


def test_same_json_value_written_another_way_means_the_same() -> None:
    got = b'{"cost": 16.5e-06, "n": 1}\n'
    want = b'{"cost": 1.65e-05, "n": 1}\n'
    assert classify("prices.json", got, want, SIDES) == "same-meaning"


def test_python_differing_only_in_comments_and_blank_lines_means_the_same() -> None:
    got = b"import os\nx = 1  # the system-path\n"
    want = b"import os\n\nx = 1  # the systempath\n"
    assert classify("m.py", got, want, SIDES) == "same-meaning"


def test_python_imports_naming_the_same_names_in_another_order_mean_the_same() -> None:
    got = b"from typing import Any, TYPE_CHECKING, TypedDict\n"
    want = b"from typing import Any, TypedDict, TYPE_CHECKING\n"
    assert classify("m.py", got, want, SIDES) == "same-meaning"
    assert classify("m.py", got, b"from typing import Any, TYPE_CHECKING\n", SIDES) == "loss"


def test_yaml_and_toml_values_compare_by_meaning() -> None:
    assert classify("c.yaml", b"a: [1, 2]\n", b"a:\n  - 1\n  - 2\n", SIDES) == "same-meaning"
    assert classify("p.toml", b'a = "x"\n', b"a = 'x'\n", SIDES) == "same-meaning"
    assert classify("p.toml", b'a = "x"\n', b'a = "y"\n', (b"", b'a = "x"\n', b'a = "y"\n')) == "loss"


def test_same_lines_in_another_order() -> None:
    got = b"items = [\n    'fork',\n    'up',\n]\n"
    want = b"items = [\n    'up',\n    'fork',\n]\n"
    assert classify("m.txt", got, want, SIDES) == "order-only"


def test_a_persons_new_text_on_top_of_the_merge_is_a_committed_edit() -> None:
    base = b"platforms: amd64, #arm64\nname: x\n"
    fork = base + b"fork: 1\n"
    up = base + b"up: 1\n"
    got = b"platforms: amd64, #arm64\nname: x\nfork: 1\nup: 1\n"
    want = b"platforms: amd64 #arm64\nname: x\nfork: 1\nup: 1\n"
    assert classify("w.txt", got, want, (base, fork, up)) == "committed-edit"


def test_dropping_a_line_one_side_wrote_is_a_loss() -> None:
    got = b"a = 1\nb = 2\nfork = 3\n"  # upstream's addition lost
    want = b"a = 1\nb = 2\nfork = 3\nup = 4\n"
    assert classify("m.txt", got, want, SIDES) == "loss"


def test_keeping_a_line_people_dropped_from_one_side_is_a_loss() -> None:
    got = b"a = 1\nb = 2\nfork = 3\nup = 4\n"
    want = b"a = 1\nb = 2\nfork = 3\n"
    assert classify("m.txt", got, want, SIDES) == "loss"


def test_new_text_replacing_one_sides_line_is_a_loss() -> None:
    # People rewrote upstream's line: the engine's choice of a side is a real difference.
    got = b"a = 1\nb = 2\nup = 4\n"
    want = b"a = 1\nb = 2\nup = 5\n"
    assert classify("m.txt", got, want, SIDES) == "loss"
