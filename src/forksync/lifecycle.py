"""What a run must do with the sync branch, given that branch, its pull request and the release.

Nightly runs meet the same release again and again: the branch may be missing, hold only
forksync's own commits, or hold a person's resolution; the production branch may have moved;
the pull request may have been merged or closed by a person. The decision is a small pure
function over those facts (``decide``), so that every row of the README's lifecycle table is
tested alone; the pipeline only gathers the facts and carries the plan out.

The rule that matters: forksync never rewrites anyone's work. A branch holding only its own
commits may be rebuilt (pushed with a lease naming the exact commit it replaces); a branch
with a person's commit only ever moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .git import Git

PrState = Literal["none", "open", "merged", "closed"]
BOT_EMAIL = "forksync-bot@users.noreply.github.com"  # the identity forksync commits as, when none is set
TRAILER = "Forksync-Run"  # the trailer on every commit forksync makes: how it knows its own work


class Action(Enum):
    CREATE = "create"  # a new merge from the production branch
    CONTINUE = "continue"  # re-verify the branch tip as it is (a person's resolution included)
    REBUILD = "rebuild"  # only forksync's commits: a new merge from the moved production branch
    MERGE_MAIN = "merge-main"  # people's commits and main moved: merge main into the branch
    MERGE_RELEASE = "merge-release"  # the branch lacks the release (its tag moved): merge it in
    CARRY = "carry"  # a new release: start from the older sync branch that holds people's work
    STOP = "stop"  # the pull request was merged or closed: nothing is reopened or recreated


@dataclass(frozen=True)
class BranchFacts:
    exists: bool = False  # the sync branch exists (locally or on the remote)
    has_release: bool = False  # the release commit is already merged into the branch tip
    people_commits: int = 0  # commits on the branch that forksync did not make
    main_moved: bool = False  # the production branch has commits the branch lacks
    carry_from: str = ""  # an older open sync branch with people's commits and no open conflicts


@dataclass(frozen=True)
class Plan:
    action: Action
    why: str
    lease: bool = False  # the push replaces the remote branch: only with --force-with-lease


def decide(branch: BranchFacts, pr: PrState, pr_ref: str = "the pull request") -> Plan:
    """The lifecycle table of the README, row by row."""
    if pr == "merged":
        return Plan(Action.STOP, f"{pr_ref} for this release was merged; not recreated")
    if pr == "closed":
        return Plan(
            Action.STOP,
            f"{pr_ref} for this release was closed without merging; forksync does not reopen or "
            "recreate it (reopen it to have it updated, or wait for the next release)",
        )
    if not branch.exists:
        if branch.carry_from:
            return Plan(
                Action.CARRY,
                f"a newer release: started from {branch.carry_from}, whose commits by people are kept",
            )
        return Plan(Action.CREATE, "no sync branch: a new merge from the production branch")
    if branch.people_commits == 0:
        if not branch.has_release:  # an interrupted run's branch, or the release's tag moved
            return Plan(
                Action.CREATE, "the sync branch holds no merge of this release: merged afresh", lease=True
            )
        if branch.main_moved:
            return Plan(
                Action.REBUILD,
                "the production branch moved and the sync branch holds only forksync's commits: rebuilt",
                lease=True,
            )
        return Plan(Action.CONTINUE, "the sync branch is current: re-verified from its tip")
    who = f"{branch.people_commits} commit(s) by people"
    if not branch.has_release:
        return Plan(Action.MERGE_RELEASE, f"the sync branch has {who} and lacks the release: merged into it")
    if branch.main_moved:
        return Plan(
            Action.MERGE_MAIN,
            f"the production branch moved; the sync branch has {who}: main merged into it, nothing rewritten",
        )
    return Plan(Action.CONTINUE, f"the sync branch has {who}: re-verified from its tip")


def open_conflicts(conflicted: list[str], has_markers_at_tip: dict[str, bool]) -> list[str]:
    """Files of the sync merge that are still open: those whose tip still holds markers."""
    return [p for p in conflicted if has_markers_at_tip.get(p, False)]


def is_forksync_commit(author_email: str, trailers: str, bot_email: str) -> bool:
    """forksync's own commits carry its trailer (or its bot identity); anything else is a person's."""
    return bool(trailers.strip()) or author_email == bot_email


def people_commits(git: Git, tip: str, *exclude: str) -> list[str]:
    """Commits of ``tip`` not in ``exclude`` that forksync did not make (no trailer, not its bot):
    the one place that tells a person's work from forksync's, for the pipeline and `publish`."""
    fmt = f"%H%x1f%ae%x1f%(trailers:key={TRAILER},valueonly,separator=%x2c)%x1e"
    log = git.out("log", f"--format={fmt}", tip, "--not", *exclude)
    people = []
    for record in log.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 3 and not is_forksync_commit(parts[1], parts[2], BOT_EMAIL):
            people.append(parts[0])
    return people
