"""What every remote forge does with older sync PRs once the new one exists.

Supersede: comment with a link to the new PR and close the old one (its branch is kept), so
two sync PRs are never open at once. Stack: the new PR targets the older sync branch, and the
older PR gets a comment saying to merge it first. GitHub and GitLab differ only in the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .base import PullRequest, PullRequestSpec


def settle_older(
    spec: PullRequestSpec,
    new: PullRequest,
    older: Sequence[int],
    stacked_on: PullRequest | None,
    *,
    supersede: bool,
    comment: Callable[[int, str], object],
    close: Callable[[int], PullRequest],
    sign: str,
    noun: str,
) -> list[PullRequest]:
    """Supersede or stack the ``older`` sync PRs (by number); return the ones closed."""
    ref = f"{sign}{new.number}"
    what = spec.version or spec.head
    superseded: list[PullRequest] = []
    if supersede:
        for number in older:
            comment(
                number,
                f"Superseded by {ref} ({new.url}), which syncs upstream {what}. "
                f"Closing this {noun}; its branch is kept.",
            )
            superseded.append(close(number))
    elif stacked_on is not None and stacked_on.number is not None:
        comment(
            stacked_on.number,
            f"{ref} ({new.url}) syncs upstream {what} on top of this branch: "
            f"merge this {noun} first (with a merge commit).",
        )
    return superseded
