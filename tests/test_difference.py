"""How a replayed file that differs from the committed one is classed: a loss or an alternative."""

from __future__ import annotations

import pytest

from forksync.difference import classify

BASE = b"a = 1\nb = 2\n"
FORK = b"a = 1\nb = 2\nfork = 3\n"
UP = b"a = 1\nb = 2\nup = 4\n"
SIDES = (BASE, FORK, UP)


@pytest.mark.parametrize(
    ("path", "got", "want", "expected"),
    [
        # committed conflict markers, or a committed file that does not parse: no valid target
        (
            "m.py",
            b"a = 1\nb = 2\nfork = 3\nup = 4\n",
            b"a = 1\nb = 2\n<<<<<<< HEAD\nfork = 3\n=======\nup = 4\n>>>>>>> main\n",
            "committed-broken",
        ),
        (
            "t.py",
            b"try:\n    x = 1\nexcept E:\n    pass\n",
            b"try:\n    x = 1\nprint(x)\n",
            "committed-broken",
        ),
        (
            "prices.json",
            b'{\n  "a": {\n    "x": 1\n  },\n  "b": 2\n}\n',
            b'{\n  "a": {\n    "x": 1\n  "b": 2\n}\n',
            "committed-broken",
        ),
        ("t.py", b"try:\n    x = 1\n", b"try:\n    x = 2\n", "loss"),  # both broken: no excuse
        # the same value written another way, the same code with other comments or import order
        ("prices.json", b'{"cost": 16.5e-06, "n": 1}\n', b'{"cost": 1.65e-05, "n": 1}\n', "same-meaning"),
        (
            "m.py",
            b"import os\nx = 1  # the system-path\n",
            b"import os\n\nx = 1  # the systempath\n",
            "same-meaning",
        ),
        (
            "m.py",
            b"from typing import Any, TYPE_CHECKING, TypedDict\n",
            b"from typing import Any, TypedDict, TYPE_CHECKING\n",
            "same-meaning",
        ),
        (
            "m.py",
            b"from typing import Any, TYPE_CHECKING, TypedDict\n",
            b"from typing import Any, TYPE_CHECKING\n",
            "loss",
        ),
        ("c.yaml", b"a: [1, 2]\n", b"a:\n  - 1\n  - 2\n", "same-meaning"),
        ("p.toml", b'a = "x"\n', b"a = 'x'\n", "same-meaning"),
        (
            "m.txt",
            b"items = [\n    'fork',\n    'up',\n]\n",
            b"items = [\n    'up',\n    'fork',\n]\n",
            "order-only",
        ),
    ],
)
def test_differences_that_lose_nothing(path: str, got: bytes, want: bytes, expected: str) -> None:
    assert classify(path, got, want, SIDES) == expected


def test_a_different_toml_value_from_a_side_is_a_loss() -> None:
    assert classify("p.toml", b'a = "x"\n', b'a = "y"\n', (b"", b'a = "x"\n', b'a = "y"\n')) == "loss"


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
