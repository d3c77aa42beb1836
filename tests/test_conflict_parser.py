"""Property tests of the conflict parser against git's own merge-file output."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forksync.resolve.conflicts import has_markers, merge_file, parse_merged

LINE = st.sampled_from(
    ["a\n", "b\n", "c\n", "d\n", "e\n", "<<<<<<< x\n", "=======\n", ">>>>>>> y\n", "x\r\n", ""]
)
TEXT = st.lists(LINE, max_size=12).map("".join)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _b(s: str) -> bytes:
    return s.encode()


@FAST
@given(TEXT, TEXT, TEXT)
def test_render_and_parse_round_trip(base: str, fork: str, up: str) -> None:
    doc = merge_file(_b(base), _b(fork), _b(up))
    text = doc.render()
    again = parse_merged(text, doc.size, doc.labels)
    assert again.render() == text
    assert [(h.base, h.fork, h.upstream) for h in again.hunks] == [
        (h.base, h.fork, h.upstream) for h in doc.hunks
    ]


@FAST
@given(TEXT, TEXT, TEXT)
def test_choosing_a_side_for_every_hunk_leaves_no_marker(base: str, fork: str, up: str) -> None:
    doc = merge_file(_b(base), _b(fork), _b(up))
    for pick in ("fork", "upstream"):
        chosen = {h.index: getattr(h, pick) for h in doc.hunks}
        out = doc.render(chosen)
        assert "<" * doc.size + " " + doc.labels[0] not in out
    if doc.hunks:
        assert f"{'<' * doc.size} {doc.labels[0]}" in doc.render()


@FAST
@given(TEXT, TEXT)
def test_one_sided_change_merges_cleanly_to_that_change(base: str, changed: str) -> None:
    for fork, up in ((changed, base), (base, changed), (changed, changed)):
        doc = merge_file(_b(base), _b(fork), _b(up))
        assert not doc.hunks
        assert doc.render() == changed


@FAST
@given(TEXT, TEXT, TEXT)
def test_fork_side_of_every_hunk_is_a_slice_of_the_fork(base: str, fork: str, up: str) -> None:
    doc = merge_file(_b(base), _b(fork), _b(up))
    for h in doc.hunks:
        assert "".join(h.fork) in fork and "".join(h.upstream) in up


def test_marker_gate() -> None:
    assert has_markers(b"a\n<<<<<<< fork\nx\n=======\ny\n>>>>>>> upstream\n")
    assert not has_markers(b"a\n<<<<<<< only a start\n")
    assert not has_markers(b"=======\nheading underline\n")
